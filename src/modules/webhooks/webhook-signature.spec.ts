import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook } from './webhook-signature';

describe('webhook signatures', () => {
  it('makes secrets of whsec_ and at least 24 random bytes, each different', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('signs as the standardwebhooks package verifies', () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ id: 'evt_1', type: 'purchase.completed', data: { a: 1 } });
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(secret, 'evt_1', now, body);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(headers['webhook-signature']).toBe(
      new Webhook(secret).sign('evt_1', new Date(now * 1000), body),
    );
  });

  it('matches a known vector of the spec, and takes a bare base64 key too', () => {
    // From the Standard Webhooks test vectors.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    const signed = signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
    expect(signed['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(signWebhook(secret.slice(6), 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toEqual(
      signed,
    );
  });

  it('changes with the secret', () => {
    const body = '{}';
    expect(signWebhook(newWebhookSecret(), 'a', 1, body)['webhook-signature']).not.toBe(
      signWebhook(newWebhookSecret(), 'a', 1, body)['webhook-signature'],
    );
  });
});
