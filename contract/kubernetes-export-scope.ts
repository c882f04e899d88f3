/**
 * What the infrastructure export may read from the Kubernetes API: one definition shared by the
 * export job's RBAC role (declared by `KubernetesJobs`) and by the export itself
 * (`runbooks/platform/infra-export.ts`), so the job never lists what its role may not read and
 * the role grants nothing the export does not read. Pure data and functions.
 */

/** Core-group (`v1`) resources the export reads: configuration, not runtime records or Secrets. */
export const CORE_EXPORT_RESOURCES = [
  "configmaps",
  "limitranges",
  "namespaces",
  "persistentvolumeclaims",
  "persistentvolumes",
  "pods",
  "podtemplates",
  "replicationcontrollers",
  "resourcequotas",
  "serviceaccounts",
  "services",
] as const;

/** API groups (besides the core group) the export reads by default; config may add custom-resource groups. */
export const DEFAULT_EXPORT_API_GROUPS = [
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apps",
  "autoscaling",
  "batch",
  "networking.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "scheduling.k8s.io",
  "storage.k8s.io",
] as const;

/** Discovery paths the export reads (non-resource URLs). */
export const DISCOVERY_PATHS = ["/api", "/api/*", "/apis", "/apis/*", "/version"] as const;

export interface ExportScope {
  /** API groups besides the core group. */
  apiGroups: readonly string[];
  /** Also read Secrets (the export encrypts them with the stack's backup key before upload). */
  secrets: boolean;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/** The ClusterRole rules of the export: get/list on the scope, and discovery. No wildcard group. */
export function exportRules(scope: ExportScope): PolicyRule[] {
  return [
    {
      apiGroups: [""],
      resources: [...CORE_EXPORT_RESOURCES, ...(scope.secrets ? ["secrets"] : [])],
      verbs: ["get", "list"],
    },
    ...(scope.apiGroups.length ? [{ apiGroups: [...scope.apiGroups], resources: ["*"], verbs: ["get", "list"] }] : []),
    { nonResourceURLs: [...DISCOVERY_PATHS], verbs: ["get"] },
  ];
}

/** Whether the scope covers a discovered resource (`groupVersion` as discovery names it: `v1`, `apps/v1`). */
export function inExportScope(scope: ExportScope, groupVersion: string, resource: string): boolean {
  if (!groupVersion.includes("/"))
    return (CORE_EXPORT_RESOURCES as readonly string[]).includes(resource) || (scope.secrets && resource === "secrets");
  return scope.apiGroups.includes(groupVersion.slice(0, groupVersion.indexOf("/")));
}
