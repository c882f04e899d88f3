/**
 * Step factories shared by region-failover, failback, service-recovery and database-recovery.
 * Each is idempotent (`isDone`) and describes its calls for `--dry-run`.
 */
export { describeRoll, rollServices, scaleServicesStep, verifyTargetsStep } from "./service-steps.ts";
export { moveDnsStep } from "./dns-step.ts";
export { alarmStep } from "./alarm-step.ts";
export { pointSecretStep, readConnectionSecret } from "./secret-step.ts";
