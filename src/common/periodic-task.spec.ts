import { PeriodicTask } from './periodic-task';

describe('PeriodicTask', () => {
  it('never runs the task twice at once, and stop waits for the run in progress', async () => {
    let active = 0;
    let most = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const task = new PeriodicTask(async () => {
      active++;
      most = Math.max(most, active);
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
      active--;
    }, 1);
    task.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(1);
    const stopping = task.stop();
    release();
    await stopping;
    expect(most).toBe(1);
    expect(active).toBe(0);
    await task.runOnce();
    expect(runs).toBe(1);
  });

  it('runSoon during a run asks for one more right after it, however often it is asked', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const task = new PeriodicTask(async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
    }, 60_000);
    task.runSoon();
    expect(runs).toBe(1);
    task.runSoon();
    task.runSoon();
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
  });

  it('runs again after a run completes', async () => {
    let runs = 0;
    const task = new PeriodicTask(() => Promise.resolve(runs++), 5);
    task.start();
    await new Promise((resolve) => setTimeout(resolve, 40));
    await task.stop();
    expect(runs).toBeGreaterThan(1);
  });
});
