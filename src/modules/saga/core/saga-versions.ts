import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { errorMessage } from '../../../common/errors/error-message';
import { PeriodicTask } from '../../../common/periodic-task';
import type { AppConfig } from '../../../config/configuration';
import {
  CURRENT_PURCHASE_DEFINITION,
  isRegistered,
  REGISTERED_DEFINITIONS,
} from './definition/saga-definitions';
import { SagaRepository } from './saga.repository';

/** Open sagas of one definition version. */
export interface OpenSagasOfVersion {
  name: string;
  version: number;
  open: number;
  /** This build has the version: this instance drives (and recovers) its sagas. */
  registered: boolean;
}

/** A definition version this build registers, as an admin sees it. */
export interface RegisteredDefinitionView {
  name: string;
  version: number;
  hash: string;
  /** New sagas start on it. */
  current: boolean;
  steps: { name: string; pivot: boolean; compensable: boolean }[];
}

export interface SagaVersionsStatus {
  /** The definition versions this build drives, as `name@version`. */
  registered: string[];
  /** Open sagas of versions this build lacks: left to the instances that have them. */
  unregisteredOpen: OpenSagasOfVersion[];
  checkedAt: Date | null;
}

const keyOf = (row: { name: string; version: number }): string => `${row.name}@${row.version}`;

/**
 * Which saga definition versions this instance drives, and whether open sagas in the database
 * run versions it lacks. Those are never claimed here (recovery skips them); they are counted at
 * start, every SAGA_VERSIONS_CHECK_MS and after an admin moves sagas between versions, and
 * reported loudly: a warning each time their number changes, for an instance that has their
 * version, or an admin, to take them.
 */
@Injectable()
export class SagaVersions implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SagaVersions.name);
  private readonly task: PeriodicTask;
  private unregistered: OpenSagasOfVersion[] = [];
  private checkedAt: Date | null = null;
  /** The open counts last reported, per unregistered `name@version`. */
  private reported = new Map<string, number>();
  private failing = false;

  constructor(
    private readonly sagas: SagaRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.task = new PeriodicTask(
      () => this.refresh(),
      config.get('saga', { infer: true }).versionsCheckMs,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    this.task.start();
    // The first count is in before the instance answers: /health is right from the start.
    await this.task.runOnce();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }

  /** A count now (or the one under way); never throws, and says once when counting fails. */
  async refresh(): Promise<void> {
    try {
      await this.check();
      if (this.failing) this.logger.log('Counting open sagas per definition version works again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        this.logger.error(
          `Counting open sagas per definition version failed: ${errorMessage(error)}`,
        );
      }
      this.failing = true;
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
    this.report(this.unregistered);
    return counted;
  }

  status(): SagaVersionsStatus {
    return {
      registered: this.registeredNames(),
      unregisteredOpen: this.unregistered,
      checkedAt: this.checkedAt,
    };
  }

  /** Whether this build drives sagas of that definition version. */
  drives(ref: { name: string; version: number }): boolean {
    return isRegistered(ref);
  }

  /** The definitions this build registers, with their steps. */
  registeredDefinitions(): RegisteredDefinitionView[] {
    return REGISTERED_DEFINITIONS.map((registered) => ({
      name: registered.name,
      version: registered.version,
      hash: registered.hash,
      current: registered === CURRENT_PURCHASE_DEFINITION,
      steps: registered.definition.steps.map(({ name, pivot, compensable }) => ({
        name,
        pivot,
        compensable,
      })),
    }));
  }

  /** Once per change, not once per count: a new number is a warning, none left is news. */
  private report(unregistered: readonly OpenSagasOfVersion[]): void {
    const now = new Map(unregistered.map((row) => [keyOf(row), row.open]));
    for (const row of unregistered) {
      const before = this.reported.get(keyOf(row));
      if (before === row.open) continue;
      this.logger.warn(
        `${row.open} open saga(s) run definition ${row.name} v${row.version}` +
          `${before === undefined ? '' : ` (${before} before)`}, which this build does not have ` +
          `(it drives ${this.registeredNames().join(', ')}): they are left to an instance that has it, ` +
          'or to an admin to move onto a version this build has (POST /admin/saga-versions/move)',
      );
    }
    for (const key of this.reported.keys()) {
      if (!now.has(key)) this.logger.log(`No open saga runs definition ${key} any more`);
    }
    this.reported = now;
  }

  private registeredNames(): string[] {
    return REGISTERED_DEFINITIONS.map(keyOf);
  }
}
