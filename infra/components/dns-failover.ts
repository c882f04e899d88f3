import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

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
  /** Health check of the primary: HTTPS `path` on `port`, every `intervalSeconds`, unhealthy after `failureThreshold` failures. */
  healthCheck: { path: string; port: number; intervalSeconds: 10 | 30; failureThreshold: number };
}

/**
 * Route 53 failover for the API name: a health check on the primary endpoint (HTTPS `/health`,
 * every 30 s, unhealthy after 3 failures) and PRIMARY/SECONDARY records (TTL 60). The SECONDARY
 * record is only answered when the primary's health check fails; the failover runbook still
 * brings the DR database and services up, and proves them healthy, before it forces a switch.
 */
export class DnsFailover extends pulumi.ComponentResource {
  readonly healthCheck: aws.route53.HealthCheck;
  readonly primary: aws.route53.Record;
  readonly secondary: aws.route53.Record;

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
        tags: { Name: `${args.recordName} primary` },
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
    this.primary = record("PRIMARY", args.primarySetIdentifier, args.primaryTarget, this.healthCheck.id);
    this.secondary = record("SECONDARY", args.secondarySetIdentifier, args.secondaryTarget);
    this.registerOutputs({ healthCheckId: this.healthCheck.id });
  }
}
