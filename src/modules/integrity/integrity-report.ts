import type { IntegrityReport } from './integrity.service';

/** The report as a person reads it: one line per check, then its listed violations. */
export function formatIntegrityReport(report: IntegrityReport, target: string): string {
  const lines = [
    report.clean
      ? `Integrity of ${target}: clean (${report.checks.length} checks in ${report.durationMs} ms)`
      : `Integrity of ${target}: ${report.violations} violation(s) (${report.checks.length} checks in ${report.durationMs} ms)`,
  ];
  for (const check of report.checks) {
    const mark = check.violations === 0 ? 'ok  ' : 'FAIL';
    lines.push(`  ${mark} ${check.check.padEnd(20)} ${check.description}`);
    for (const violation of check.listed) lines.push(`         - ${violation.message}`);
    const unlisted = check.violations - check.listed.length;
    if (unlisted > 0) lines.push(`         ... and ${unlisted} more`);
  }
  return lines.join('\n');
}
