import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INTEGRATION_EVENT_TYPES } from '../../src/modules/events/integration-event';

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validators = new Map(
  INTEGRATION_EVENT_TYPES.map((type) => [
    type,
    ajv.compile(
      JSON.parse(
        readFileSync(join(__dirname, '../../schemas/events', `${type}.schema.json`), 'utf8'),
      ) as object,
    ),
  ]),
);

/** The schema's complaints about an event body (empty: valid). */
export function schemaErrors(body: { type: string }): string[] {
  const validate = validators.get(body.type as (typeof INTEGRATION_EVENT_TYPES)[number]);
  if (validate === undefined) return [`no schema for type ${body.type}`];
  if (validate(body)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`);
}
