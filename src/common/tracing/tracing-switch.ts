/**
 * Whether the environment asks for tracing: an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or a traces exporter (`OTEL_TRACES_EXPORTER`, other than
 * `none`), unless `OTEL_SDK_DISABLED` is true. Off otherwise: then no SDK is loaded and nothing
 * is patched.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const set = (name: string) => (env[name]?.trim() ?? '') !== '';
  if (set('OTEL_EXPORTER_OTLP_ENDPOINT') || set('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')) return true;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'none');
  return exporters.length > 0;
}
