import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  JetStreamPublisher,
  NoStreamError,
  PublishRefusedError,
} from '../src/modules/events/jetstream-publisher';
import { NatsServer } from './support/nats-server';

/** The publisher against a real nats-server of the test's own. */
describe('JetStreamPublisher', () => {
  let server: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'PUBLISHER_TEST',
      subjects: ['pub.>'],
      duplicate_window: 60_000_000_000,
    });
    await jsm.streams.add({ name: 'OTHER_TEST', subjects: ['other.>'] });
  });

  afterAll(async () => {
    await nc.close();
    await server.destroy();
  });

  const withId = (id: string, stream = 'PUBLISHER_TEST') => {
    const hdrs = headers();
    hdrs.set('Nats-Msg-Id', id);
    hdrs.set('Nats-Expected-Stream', stream);
    return hdrs;
  };

  it('resolves each publish once the stream stored it; a duplicate id is stored once', async () => {
    const publisher = new JetStreamPublisher(nc, 2000);
    try {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          publisher.publish('pub.a', JSON.stringify({ i }), withId(`id-${i}`)),
        ),
      );
      await publisher.publish('pub.a', '{"again":true}', withId('id-7'));
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('PUBLISHER_TEST');
      expect(info.state.messages).toBe(500);
    } finally {
      publisher.close('test over');
    }
  });

  it('fails a subject no stream takes, and a message for another stream than expected', async () => {
    const publisher = new JetStreamPublisher(nc, 2000);
    try {
      await expect(publisher.publish('nowhere.a', '{}', withId('x-1'))).rejects.toBeInstanceOf(
        NoStreamError,
      );
      await expect(
        publisher.publish('other.a', '{}', withId('x-2', 'PUBLISHER_TEST')),
      ).rejects.toBeInstanceOf(PublishRefusedError);
    } finally {
      publisher.close('test over');
    }
  });

  it('fails what has no acknowledgement within its time, and what waits when closed', async () => {
    const lonely = await NatsServer.start();
    const conn = await connect({ servers: lonely.url, reconnect: true, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(conn);
    await jsm.streams.add({ name: 'LONELY', subjects: ['lonely.>'] });
    const publisher = new JetStreamPublisher(conn, 300);
    try {
      await lonely.stop();
      // Buffered by the client while disconnected: no acknowledgement comes in time.
      await expect(publisher.publish('lonely.a', '{}', withId('l-1', 'LONELY'))).rejects.toThrow(
        'no acknowledgement within 300 ms',
      );
      const waiting = publisher.publish('lonely.a', '{}', withId('l-2', 'LONELY'));
      publisher.close('closed by the test');
      await expect(waiting).rejects.toThrow('closed by the test');
    } finally {
      await conn.close().catch(() => undefined);
      await lonely.destroy();
    }
  });
});
