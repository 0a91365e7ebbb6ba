import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { buildConfig, type AppConfig } from '../../../config/configuration';
import { SagaRollupsJob } from './saga-rollups.job';
import type { SagaRollupsRepository } from './saga-rollups.repository';

describe('SagaRollupsJob', () => {
  afterEach(() => jest.restoreAllMocks());

  it('says once when folding fails and once when it works again, and never throws', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const answers: (() => Promise<boolean>)[] = [
      () => Promise.reject(new Error('connection refused')),
      () => Promise.reject(new Error('connection refused')),
      () => Promise.resolve(false),
      () => Promise.resolve(true),
    ];
    let call = 0;
    const fold = jest.fn(() => answers[call++]());
    const vacuum = jest.fn(() => Promise.resolve());
    const rollups = { fold, vacuum } as Pick<
      SagaRollupsRepository,
      'fold' | 'vacuum'
    > as SagaRollupsRepository;
    const job = new SagaRollupsJob(
      rollups,
      new ConfigService<AppConfig, true>(buildConfig({ STATS_ROLLUP_MS: '600000' })),
    );
    expect(await job.fold()).toBe(false);
    expect(await job.fold()).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('connection refused'));
    // Another instance folding: not a failure.
    expect(await job.fold()).toBe(false);
    expect(log).toHaveBeenCalledTimes(1);
    expect(await job.fold()).toBe(true);
    expect(log).toHaveBeenCalledTimes(1);
    // The first fold that moved rows vacuums the tables it emptied; the next ones do not.
    expect(vacuum).toHaveBeenCalledTimes(1);
  });
});
