/**
 * Step factories shared by region-failover, failback, fence-primary, service-recovery and
 * database-recovery. Each is idempotent (`isDone` or an idempotent `run`) and describes its calls
 * for `--dry-run`.
 */
export { describeRoll, rollServices, scaleServicesStep, verifyTargetsStep } from "./service-steps.ts";
export { enableAlarmStep } from "./alarm-step.ts";
export { fencePrimaryStep } from "./fencing.ts";
export { clientsMovedStep, switchStep } from "./switch-steps.ts";
export { pointSecretStep, readConnectionSecret } from "./secret-step.ts";
export { pointAppStep } from "./app-step.ts";
