import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { FailoverMode } from "../../contract/switch.ts";

export interface DnsFailoverArgs {
  hostedZoneId: string;
  /** The name clients use, e.g. api.eventchain.com. */
  recordName: string;
  /** Record type; the plan uses CNAME. */
  recordType: "CNAME";
  /** TTL in seconds; the plan: 60. */
  ttl: number;
  /** DNS name of the primary region's load balancer. */
  primaryTarget: pulumi.Input<string>;
  /** DNS name of the DR region's load balancer. */
  secondaryTarget: pulumi.Input<string>;
  primarySetIdentifier: string;
  secondarySetIdentifier: string;
  /** Health check of the primary endpoint: HTTPS `path` on `port`, every `intervalSeconds`, unhealthy after `failureThreshold` failures. */
  healthCheck: { path: string; port: number; intervalSeconds: 10 | 30; failureThreshold: number };
  /**
   * What the PRIMARY record carries: "switch" (default) the failover switch's health check, so
   * only the runbooks move traffic; "automatic" the endpoint health check (the config refuses it
   * towards a pilot light).
   */
  failoverMode?: FailoverMode;
  /** The failover switch's health check (`FailoverSwitch.healthCheck.id`). */
  switchHealthCheckId: pulumi.Input<string>;
}

/**
 * Route 53 failover for the API name: PRIMARY (the primary load balancer) and SECONDARY (the DR
 * one) records, TTL 60, exactly as declared here — no runbook ever rewrites them. The PRIMARY
 * record carries the failover switch's health check, so Route 53 answers SECONDARY only while
 * the switch is engaged. The endpoint health check (HTTPS `/health`, every 30 s, unhealthy after
 * 3 failures) pages through its alarm (`EndpointHealthAlarm`, in the primary stack) and moves no
 * traffic. The zone's authoritative name servers are read at deploy time, for the runbooks to
 * prove a switch took effect from the DNS data plane.
 */
export class DnsFailover extends pulumi.ComponentResource {
  readonly healthCheck: aws.route53.HealthCheck;
  readonly primary: aws.route53.Record;
  readonly secondary: aws.route53.Record;
  readonly nameServers: pulumi.Output<string[]>;

  constructor(name: string, args: DnsFailoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:DnsFailover", name, {}, opts);
    const parent = { parent: this };
    this.healthCheck = new aws.route53.HealthCheck(
      `${name}-primary-health`,
      {
        type: "HTTPS",
        fqdn: args.primaryTarget,
        port: args.healthCheck.port,
        resourcePath: args.healthCheck.path,
        requestInterval: args.healthCheck.intervalSeconds,
        failureThreshold: args.healthCheck.failureThreshold,
        enableSni: true,
        tags: { Name: `${args.recordName} primary endpoint (pages only)` },
      },
      parent,
    );
    const record = (
      role: "PRIMARY" | "SECONDARY",
      setIdentifier: string,
      target: pulumi.Input<string>,
      healthCheckId?: pulumi.Input<string>,
    ) =>
      new aws.route53.Record(
        `${name}-${role.toLowerCase()}`,
        {
          zoneId: args.hostedZoneId,
          name: args.recordName,
          type: args.recordType,
          ttl: args.ttl,
          setIdentifier,
          failoverRoutingPolicies: [{ type: role }],
          records: [target],
          ...(healthCheckId ? { healthCheckId } : {}),
        },
        parent,
      );
    const routing = args.failoverMode === "automatic" ? this.healthCheck.id : args.switchHealthCheckId;
    this.primary = record("PRIMARY", args.primarySetIdentifier, args.primaryTarget, routing);
    this.secondary = record("SECONDARY", args.secondarySetIdentifier, args.secondaryTarget);
    this.nameServers = aws.route53.getZoneOutput({ zoneId: args.hostedZoneId }, parent).nameServers;
    this.registerOutputs({ healthCheckId: this.healthCheck.id, nameServers: this.nameServers });
  }
}
