import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { JOB_OUTPUTS_DIR, JOB_OUTPUTS_KEY, JOB_SCRATCH_DIR } from "../../contract/jobs.ts";
import {
  BACKUP_JOB_LABEL,
  jobCommand,
  jobEnvironment,
  jobStatements,
  kubernetesSchedule,
  type BackupJob,
  type JobPermissionsArgs,
} from "./backup-jobs.ts";
import { policyJson } from "./iam.ts";
import { exportRules, type ExportScope } from "../../contract/kubernetes-export-scope.ts";

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
  /** Name of the jobs' IAM role (its ARN is part of the stack outputs the jobs read: no cycle). */
  roleName: string;
  /** The stack's outputs as JSON (`contract/stack-outputs.ts` shape), mounted read-only into every job. */
  outputsJson: pulumi.Input<string>;
  /** What the infrastructure export may read from the Kubernetes API. */
  exportScope: ExportScope;
}

/** The Kubernetes service account the jobs run as. */
export const SERVICE_ACCOUNT = "eventchain-backup";
/** The ConfigMap holding the stack outputs. */
export const OUTPUTS_CONFIG_MAP = "eventchain-backup-outputs";
/** The only job that talks to the Kubernetes API (it gets the service account token). */
export const EXPORT_JOB = "infrastructure-export";

/** The CronJob name of a job. */
export const cronJobName = (job: BackupJob) => `eventchain-${job.id}`;

/** The volume name of the n-th app-config directory. */
const appConfigVolume = (n: number) => `app-config-${n}`;

/**
 * The backup jobs as Kubernetes CronJobs. Each job gets the stack outputs as a mounted ConfigMap
 * (no Pulumi CLI or state credentials in the cluster) and one writable scratch volume for
 * temporary files, journals and reports; the root filesystem is read-only. The service account
 * is bound to an IAM role through IRSA (no static keys). Only the infrastructure export reads
 * the Kubernetes API, through a ClusterRole limited to the configured export scope (Secrets only
 * when their export is enabled); the app-config directories reach it read-only from EFS.
 */
export class KubernetesJobs extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly cronJobs: k8s.batch.v1.CronJob[];
  readonly cronJobNames: string[];
  readonly outputs: k8s.core.v1.ConfigMap;

  // Long on purpose: it declares the component's resources in order, one block each, all with { parent: this }.
  constructor(name: string, args: KubernetesJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:backup:KubernetesJobs", name, {}, opts);
    const parent = { parent: this };
    this.role = new aws.iam.Role(
      `${name}-irsa`,
      {
        name: args.roleName,
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
        // Only the export mounts the API token (see the pod specs); IRSA projects its own token.
        automountServiceAccountToken: false,
      },
      parent,
    );
    const reader = new k8s.rbac.v1.ClusterRole(
      `${name}-export-reader`,
      {
        metadata: { name: "eventchain-backup-export-reader" },
        rules: exportRules(args.exportScope),
      },
      parent,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-export-reader-binding`,
      {
        metadata: { name: "eventchain-backup-export-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: reader.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace: args.namespace }],
      },
      parent,
    );
    this.outputs = new k8s.core.v1.ConfigMap(
      `${name}-outputs`,
      {
        metadata: {
          name: OUTPUTS_CONFIG_MAP,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/part-of": "eventchain-dr" },
        },
        immutable: false,
        data: { [JOB_OUTPUTS_KEY]: args.outputsJson },
      },
      parent,
    );
    const appConfigClaims = new Map<BackupJob, pulumi.Output<string>[]>();
    for (const job of args.jobs) {
      if (!job.appConfig) continue;
      const claims = job.appConfig.directories.map((dir, n) => {
        const pvName = `eventchain-backup-${job.id}-${appConfigVolume(n)}`;
        const pv = new k8s.core.v1.PersistentVolume(
          `${name}-${job.id}-${appConfigVolume(n)}`,
          {
            metadata: { name: pvName, labels: { "app.kubernetes.io/part-of": "eventchain-dr" } },
            spec: {
              capacity: { storage: "1Gi" },
              accessModes: ["ReadOnlyMany"],
              persistentVolumeReclaimPolicy: "Retain",
              storageClassName: "",
              // EFS CSI driver: TLS in transit by default; the directory as the volume's root.
              csi: { driver: "efs.csi.aws.com", volumeHandle: `${job.appConfig!.fileSystemId}:${dir}`, readOnly: true },
            },
          },
          parent,
        );
        const pvc = new k8s.core.v1.PersistentVolumeClaim(
          `${name}-${job.id}-${appConfigVolume(n)}-claim`,
          {
            metadata: { name: pvName, namespace: args.namespace },
            spec: {
              accessModes: ["ReadOnlyMany"],
              storageClassName: "",
              volumeName: pv.metadata.name,
              resources: { requests: { storage: "1Gi" } },
            },
          },
          parent,
        );
        return pvc.metadata.name;
      });
      appConfigClaims.set(job, claims);
    }
    this.cronJobNames = args.jobs.map(cronJobName);
    this.cronJobs = args.jobs.map((job) => {
      const claims = appConfigClaims.get(job) ?? [];
      const dirs = job.appConfig?.directories ?? [];
      return new k8s.batch.v1.CronJob(
        `${name}-${job.id}`,
        {
          metadata: {
            name: cronJobName(job),
            namespace: args.namespace,
            labels: { "app.kubernetes.io/part-of": "eventchain-dr", job: job.id, [BACKUP_JOB_LABEL]: job.id },
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
                  metadata: { labels: { job: job.id, "app.kubernetes.io/part-of": "eventchain-dr" } },
                  spec: {
                    serviceAccountName: serviceAccount.metadata.name,
                    automountServiceAccountToken: job.id === EXPORT_JOB,
                    restartPolicy: "Never",
                    securityContext: {
                      runAsNonRoot: true,
                      runAsUser: 10001,
                      runAsGroup: 10001,
                      fsGroup: 10001,
                      seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                      {
                        name: "backup",
                        image: args.image,
                        imagePullPolicy: "Always",
                        command: jobCommand(job),
                        env: jobEnvironment(job, args.region),
                        resources: {
                          requests: { cpu: "250m", memory: "512Mi", "ephemeral-storage": "1Gi" },
                          limits: { memory: "4Gi", "ephemeral-storage": "21Gi" },
                        },
                        securityContext: {
                          allowPrivilegeEscalation: false,
                          readOnlyRootFilesystem: true,
                          capabilities: { drop: ["ALL"] },
                        },
                        volumeMounts: [
                          { name: "outputs", mountPath: JOB_OUTPUTS_DIR, readOnly: true },
                          { name: "scratch", mountPath: JOB_SCRATCH_DIR },
                          ...dirs.map((dir, n) => ({ name: appConfigVolume(n), mountPath: dir, readOnly: true })),
                        ],
                      },
                    ],
                    volumes: [
                      {
                        name: "outputs",
                        configMap: {
                          name: this.outputs.metadata.name,
                          items: [{ key: JOB_OUTPUTS_KEY, path: JOB_OUTPUTS_KEY }],
                          defaultMode: 0o444,
                        },
                      },
                      { name: "scratch", emptyDir: { sizeLimit: "20Gi" } },
                      ...claims.map((claimName, n) => ({
                        name: appConfigVolume(n),
                        persistentVolumeClaim: { claimName, readOnly: true },
                      })),
                    ],
                  },
                },
              },
            },
          },
        },
        parent,
      );
    });
    this.registerOutputs({ roleArn: this.role.arn, cronJobs: this.cronJobNames });
  }
}
