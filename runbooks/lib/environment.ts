/**
 * The environment variables a run reads, checked with its flags, before anything is read or
 * written: a value that cannot work is refused naming the variable and what is allowed (a
 * webhook URL, which is a credential, is never shown).
 */
import { BadInputError } from "./errors.ts";
import { shown } from "./show.ts";

const JOB_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** @throws BadInputError naming every bad variable. */
export function checkEnvironment(env: NodeJS.ProcessEnv): void {
  const problems: string[] = [];
  const set = (name: string) => env[name] !== undefined && env[name] !== "";
  if (set("SLACK_WEBHOOK_URL") && !/^https:\/\/[^\s/]+\/\S+$/.test(env.SLACK_WEBHOOK_URL!))
    problems.push(
      "SLACK_WEBHOOK_URL is not an https:// URL (value not shown: it is a credential): expected https://hooks.slack.com/services/…",
    );
  if (set("AWS_MAX_ATTEMPTS")) {
    const n = Number(env.AWS_MAX_ATTEMPTS);
    if (!Number.isInteger(n) || n < 1 || n > 20)
      problems.push(
        `AWS_MAX_ATTEMPTS ${shown(env.AWS_MAX_ATTEMPTS)}: expected a whole number of attempts per call from 1 to 20`,
      );
  }
  for (const name of ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
    if (set(name) && !/^https?:\/\/[^\s]+$/.test(env[name]!))
      problems.push(
        `${name} ${shown(env[name])}: expected an http:// or https:// URL (or leave it unset for AWS's own endpoints)`,
      );
  if (set("BACKUP_JOB") && !JOB_ID.test(env.BACKUP_JOB!))
    problems.push(
      `BACKUP_JOB ${shown(env.BACKUP_JOB)}: expected a job id of lowercase letters, digits and hyphens (set by the scheduled job), or unset`,
    );
  if (problems.length === 1) throw new BadInputError(problems[0]!);
  if (problems.length > 1)
    throw new BadInputError(
      `${problems.length} environment variables cannot work:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
}
