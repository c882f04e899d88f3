import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { JOB_RDS_CA_BUNDLE } from "../outputs.ts";
import {
  BACKUP_JOB_ENV,
  JOB_FAILURE_METRIC,
  jobCommand,
  jobStatements,
  kubernetesSchedule,
  type BackupJob,
  type JobPermissionsArgs,
} from "./backup-jobs.ts";
import { policyJson } from "./iam.ts";

export interface KubernetesJobsArgs extends JobPermissionsArgs {
  jobs: BackupJob[];
  stack: string;
  /** Namespace the jobs run in (exists already: the application's). */
  namespace: string;
  /** The cluster's IAM OIDC provider and its issuer (without https://), for IRSA. */
  oidcProviderArn: string;
  oidcIssuer: string;
  /** Image of the backup jobs (full reference). */
  image: pulumi.Input<string>;
  /** Where failed jobs alarm. */
  alarmTopicArn: pulumi.Input<string>;
}

const SERVICE_ACCOUNT = "eventchain-backup";

/**
 * The logical-backup jobs as Kubernetes CronJobs (database dump, Redis snapshot export,
 * export of every API resource the cluster serves, CRDs and custom resources included). Their
 * service account is bound to an IAM role through IRSA: no static keys anywhere. The
 * cluster-config export reads, and only reads, every resource. A failed job publishes
 * `EventChain/Backups JobFailed` and its alarm goes to the alert topic.
 */
export class KubernetesJobs extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly cronJobs: k8s.batch.v1.CronJob[];
  readonly cronJobNames: string[];

  constructor(name: string, args: KubernetesJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:KubernetesJobs", name, {}, opts);
    const parent = { parent: this };
    this.role = new aws.iam.Role(
      `${name}-irsa`,
      {
        assumeRolePolicy: policyJson([
          {
            Effect: "Allow",
            Principal: { Federated: args.oidcProviderArn },
            Action: ["sts:AssumeRoleWithWebIdentity"],
            Condition: {
              StringEquals: {
                [`${args.oidcIssuer}:sub`]: `system:serviceaccount:${args.namespace}:${SERVICE_ACCOUNT}`,
                [`${args.oidcIssuer}:aud`]: "sts.amazonaws.com",
              },
            },
          },
        ]),
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-irsa-policy`,
      { role: this.role.id, policy: policyJson(jobStatements(args)) },
      parent,
    );
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      {
        metadata: {
          name: SERVICE_ACCOUNT,
          namespace: args.namespace,
          annotations: { "eks.amazonaws.com/role-arn": this.role.arn },
        },
      },
      parent,
    );
    const reader = new k8s.rbac.v1.ClusterRole(
      `${name}-reader`,
      {
        metadata: { name: "eventchain-backup-reader" },
        rules: [
          { apiGroups: ["*"], resources: ["*"], verbs: ["get", "list"] },
          { nonResourceURLs: ["/api", "/apis", "/apis/*", "/version"], verbs: ["get"] },
        ],
      },
      parent,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-reader-binding`,
      {
        metadata: { name: "eventchain-backup-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: reader.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace: args.namespace }],
      },
      parent,
    );
    this.cronJobNames = args.jobs.map((job) => `eventchain-${job.id}`);
    this.cronJobs = args.jobs.map((job, i) => {
      const cronJob = new k8s.batch.v1.CronJob(
        `${name}-${job.id}`,
        {
          metadata: {
            name: this.cronJobNames[i],
            namespace: args.namespace,
            labels: { "app.kubernetes.io/part-of": "eventchain-dr", job: job.id },
          },
          spec: {
            schedule: kubernetesSchedule(job.schedule),
            timeZone: "Etc/UTC",
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: 3600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 5,
            jobTemplate: {
              spec: {
                backoffLimit: 2,
                activeDeadlineSeconds: 4 * 3600,
                template: {
                  metadata: { labels: { job: job.id } },
                  spec: {
                    serviceAccountName: serviceAccount.metadata.name,
                    restartPolicy: "Never",
                    securityContext: {
                      runAsNonRoot: true,
                      runAsUser: 10001,
                      fsGroup: 10001,
                      seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                      {
                        name: "backup",
                        image: args.image,
                        command: jobCommand(job, args.stack),
                        env: [
                          { name: "AWS_REGION", value: args.region },
                          { name: BACKUP_JOB_ENV, value: job.id },
                          { name: "PGSSLROOTCERT", value: JOB_RDS_CA_BUNDLE },
                        ],
                        securityContext: {
                          allowPrivilegeEscalation: false,
                          readOnlyRootFilesystem: true,
                          capabilities: { drop: ["ALL"] },
                        },
                        volumeMounts: [{ name: "scratch", mountPath: "/tmp" }],
                      },
                    ],
                    volumes: [{ name: "scratch", emptyDir: { sizeLimit: "20Gi" } }],
                  },
                },
              },
            },
          },
        },
        parent,
      );
      new aws.cloudwatch.MetricAlarm(
        `${name}-${job.id}-failed`,
        {
          alarmDescription: `Kubernetes backup job ${job.id} failed`,
          namespace: JOB_FAILURE_METRIC.namespace,
          metricName: JOB_FAILURE_METRIC.metricName,
          dimensions: { Job: job.id, Stack: args.stack },
          statistic: "Sum",
          period: 300,
          evaluationPeriods: 1,
          threshold: 0,
          comparisonOperator: "GreaterThanThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [args.alarmTopicArn],
        },
        parent,
      );
      return cronJob;
    });
    this.registerOutputs({ roleArn: this.role.arn, cronJobs: this.cronJobNames });
  }
}
