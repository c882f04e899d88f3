/**
 * The model of each classified system: which data stores it needs back and whether it must
 * serve again from the DR region. A modelling decision, stated with its reasons, not a list
 * of mechanisms: the mechanisms are read from the declared resources.
 */
import type { SystemId } from "../../contract/objectives.ts";
import type { DataStore } from "./model.ts";

/**
 * What each system needs back. Only the data stores are protected by declared resources; the
 * business systems that are not data stores are services whose data lives in those stores and
 * which, in a regional disaster, come back through the DR pilot light and DNS failover.
 * `note` says why, and what is *not* covered, in the report.
 */
export interface SystemModel {
  data: DataStore[];
  /** Needs the DR services and DNS failover to serve again after a regional disaster. */
  serving: boolean;
  note: string;
}

export const SYSTEM_MODEL: Record<SystemId, SystemModel> = {
  "primary-database": { data: ["database"], serving: false, note: "The RDS PostgreSQL instance itself." },
  payments: {
    data: ["database"],
    serving: true,
    note: "Runs in the backend service; payment records are transactions in the primary database (the plan puts 'transactions' there). No separate payment store is declared.",
  },
  authentication: {
    data: ["database"],
    serving: true,
    note: "Users and credentials are in the primary database. Sessions in Redis are the cache's concern (standard tier): losing them signs users out, it loses no data.",
  },
  "core-api": {
    data: ["database"],
    serving: true,
    note: "Stateless backend and frontend services over the primary database.",
  },
  "media-storage": {
    data: ["media"],
    serving: true,
    note: "The media bucket (`media/` prefix), served by the application.",
  },
  analytics: {
    data: ["database"],
    serving: true,
    note: "Reports are computed from events in the primary database; no separate warehouse is declared.",
  },
  notifications: {
    data: ["database"],
    serving: true,
    note: "Sent by backend workers from database state; no separate queue or store is declared, so none is protected.",
  },
  search: {
    data: ["database"],
    serving: true,
    note: "No search cluster is declared: search is served from the primary database. A separate index would need its own mechanism and its rebuild time here.",
  },
  cache: {
    data: ["cache"],
    serving: false,
    note: "ElastiCache Redis: AWS Backup does not support ElastiCache, so its own snapshots and their export protect it.",
  },
  "code-and-images": {
    data: ["images"],
    serving: false,
    note: "Container images in ECR; the source code itself lives in Git, outside these stacks.",
  },
  "logging-monitoring": {
    data: ["monitoring"],
    serving: false,
    note: "Alarms are declared in both stacks (the posture checks each stack declares some), so monitoring exists in the DR region before a disaster. Historical logs in a lost region are not copied.",
  },
  "dev-staging": {
    data: ["images", "logical-backups"],
    serving: false,
    note: "Rebuilt from code: replicated images and the cluster-configuration exports in the backup bucket (`infrastructure/`).",
  },
  "docs-internal-tools": {
    data: ["logical-backups"],
    serving: false,
    note: "Internal tools run in the Kubernetes cluster; their manifests are in the cluster-configuration exports (`infrastructure/`).",
  },
};
