import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { buildConfig, type AppConfig } from '../../../config/configuration';
import type { SagaRepository } from './saga.repository';
import { SagaVersions } from './saga-versions';

type Counts = { name: string; version: number; open: number }[];

function versionsOver(answers: (Counts | Error)[], env: Record<string, string> = {}) {
  let call = 0;
  const openPerDefinition = jest.fn(() => {
    const answer = answers[Math.min(call++, answers.length - 1)];
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  });
  const sagas = { openPerDefinition } as Pick<
    SagaRepository,
    'openPerDefinition'
  > as SagaRepository;
  const versions = new SagaVersions(
    sagas,
    new ConfigService<AppConfig, true>(buildConfig({ SAGA_VERSIONS_CHECK_MS: '600000', ...env })),
  );
  return { versions, openPerDefinition };
}

describe('SagaVersions', () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;
  let error: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('warns once per change of the open sagas of a version it lacks, not once per count', async () => {
    const v1 = { name: 'purchase', version: 1, open: 4 };
    const { versions } = versionsOver([
      [v1],
      [v1, { name: 'purchase', version: 2, open: 3 }],
      [v1, { name: 'purchase', version: 2, open: 3 }],
      [v1, { name: 'purchase', version: 2, open: 1 }],
      [v1],
      [v1],
    ]);
    await versions.check();
    expect(warn).not.toHaveBeenCalled();
    expect(versions.status().unregisteredOpen).toEqual([]);

    await versions.check();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenLastCalledWith(
      expect.stringContaining('3 open saga(s) run definition purchase v2'),
    );
    expect(versions.status().unregisteredOpen).toEqual([
      { name: 'purchase', version: 2, open: 3, registered: false },
    ]);

    await versions.check();
    expect(warn).toHaveBeenCalledTimes(1);

    await versions.check();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenLastCalledWith(expect.stringContaining('1 open saga(s)'));
    expect(warn).toHaveBeenLastCalledWith(expect.stringContaining('(3 before)'));

    await versions.check();
    expect(versions.status().unregisteredOpen).toEqual([]);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith('No open saga runs definition purchase@2 any more');

    await versions.check();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(log).toHaveBeenCalledTimes(1);
  });

  it('counts at start, before the instance answers, then every SAGA_VERSIONS_CHECK_MS until shutdown', async () => {
    jest.useFakeTimers();
    const { versions, openPerDefinition } = versionsOver(
      [[{ name: 'purchase', version: 7, open: 2 }]],
      { SAGA_VERSIONS_CHECK_MS: '30000' },
    );
    expect(versions.status().checkedAt).toBeNull();
    await versions.onApplicationBootstrap();
    expect(openPerDefinition).toHaveBeenCalledTimes(1);
    expect(versions.status().unregisteredOpen).toHaveLength(1);
    expect(versions.status().checkedAt).toBeInstanceOf(Date);

    await jest.advanceTimersByTimeAsync(29_000);
    expect(openPerDefinition).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(openPerDefinition).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(30_000);
    expect(openPerDefinition).toHaveBeenCalledTimes(3);
    // The same count each time: said once.
    expect(warn).toHaveBeenCalledTimes(1);

    await versions.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(openPerDefinition).toHaveBeenCalledTimes(3);
  });

  it('keeps the last counts when counting fails, says so once, and never throws', async () => {
    const counts = [{ name: 'purchase', version: 9, open: 5 }];
    const { versions } = versionsOver([
      counts,
      new Error('connection refused'),
      new Error('connection refused'),
      counts,
    ]);
    await versions.refresh();
    await versions.refresh();
    await versions.refresh();
    expect(error).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('connection refused'));
    expect(versions.status().unregisteredOpen).toEqual([{ ...counts[0], registered: false }]);
    await versions.refresh();
    expect(log).toHaveBeenCalledWith('Counting open sagas per definition version works again');
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
