import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { isRegistered, REGISTERED_DEFINITIONS } from './definition/saga-definitions';
import { SagaRepository } from './saga.repository';

/** Open sagas of one definition version. */
export interface OpenSagasOfVersion {
  name: string;
  version: number;
  open: number;
  /** This build has the version: this instance drives (and recovers) its sagas. */
  registered: boolean;
}

export interface SagaVersionsStatus {
  /** The definition versions this build drives, as `name@version`. */
  registered: string[];
  /** Open sagas of versions this build lacks: left to the instances that have them. */
  unregisteredOpen: OpenSagasOfVersion[];
  checkedAt: Date | null;
}

/**
 * Which saga definition versions this instance drives, and whether open sagas in the database
 * run versions it lacks. Those are never claimed here (recovery skips them); they are counted at
 * start and reported loudly, for an instance that has their version, or an admin, to take them.
 */
@Injectable()
export class SagaVersions implements OnApplicationBootstrap {
  private readonly logger = new Logger(SagaVersions.name);
  private unregistered: OpenSagasOfVersion[] = [];
  private checkedAt: Date | null = null;

  constructor(private readonly sagas: SagaRepository) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.check();
    } catch (error) {
      this.logger.error(`Counting open sagas per definition version failed: ${String(error)}`);
    }
  }

  /** Counts the open sagas per definition version; answers all of them. */
  async check(): Promise<OpenSagasOfVersion[]> {
    const counted = (await this.sagas.openPerDefinition()).map((row) => ({
      ...row,
      registered: isRegistered(row),
    }));
    this.unregistered = counted.filter((row) => !row.registered);
    this.checkedAt = new Date();
    for (const row of this.unregistered) {
      this.logger.warn(
        `${row.open} open saga(s) run definition ${row.name} v${row.version}, which this build does not have ` +
          `(it drives ${this.registeredNames().join(', ')}): they are left to an instance that has it`,
      );
    }
    return counted;
  }

  status(): SagaVersionsStatus {
    return {
      registered: this.registeredNames(),
      unregisteredOpen: this.unregistered,
      checkedAt: this.checkedAt,
    };
  }

  private registeredNames(): string[] {
    return REGISTERED_DEFINITIONS.map((definition) => `${definition.name}@${definition.version}`);
  }
}
