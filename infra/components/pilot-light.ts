import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { serviceRole } from "./iam.ts";

/** One service of the pilot light. */
export interface PilotService {
  /** ECS service name, e.g. eventchain-backend-dr. */
  name: string;
  /** Desired count when this region takes traffic (the plan: backend 3, frontend 2). */
  recoveryCount: number;
  /** Desired count before a failover. Default 0 (pilot light). */
  standbyCount?: number;
  containerPort: number;
  /** ECR repository (replicated into this region) and tag to run. */
  repository: string;
  imageTag: string;
  /** Load-balancer paths routed to this service; the service without paths gets the rest. */
  paths?: string[];
}

export interface PilotLightArgs {
  clusterName: string;
  services: PilotService[];
  vpcId: pulumi.Input<string>;
  privateSubnetIds: pulumi.Input<string>[];
  publicSubnetIds: pulumi.Input<string>[];
  /** ACM certificate (this region) of the HTTPS listener. */
  certificateArn: pulumi.Input<string>;
  region: string;
  accountId: pulumi.Input<string>;
}

/**
 * The DR region's pilot light: an ECS cluster, an HTTPS load balancer and the services declared
 * at their standby count (default 0), ready to be scaled to their recovery counts by the failover
 * runbook. `desiredCount` is ignored after creation, so a `pulumi up` during or after a failover
 * never scales running DR services back to 0. (The error-rate alarm on its load balancer is an
 * `ErrorRateAlarm`, declared by the stack.)
 */
export class PilotLight extends pulumi.ComponentResource {
  readonly cluster: aws.ecs.Cluster;
  readonly loadBalancer: aws.lb.LoadBalancer;
  readonly serviceSecurityGroup: aws.ec2.SecurityGroup;
  readonly services: Array<{
    name: string;
    recoveryCount: number;
    service: aws.ecs.Service;
    targetGroup: aws.lb.TargetGroup;
  }>;

  // Long on purpose: it declares the component's resources in order, one block each, all with { parent: this }.
  constructor(name: string, args: PilotLightArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventchain:dr:PilotLight", name, {}, opts);
    const parent = { parent: this };
    this.cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      {
        name: args.clusterName,
        settings: [{ name: "containerInsights", value: "enabled" }],
      },
      parent,
    );
    // The load balancer's rules are all standalone (never mixed with inline rules on one group).
    const lbSg = new aws.ec2.SecurityGroup(
      `${name}-lb-sg`,
      {
        vpcId: args.vpcId,
        description: "DR load balancer: public HTTPS (HTTP only redirects)",
      },
      parent,
    );
    for (const port of [443, 80]) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-lb-in-${port}`,
        {
          securityGroupId: lbSg.id,
          cidrIpv4: "0.0.0.0/0",
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          description: "clients",
        },
        parent,
      );
    }
    this.serviceSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-svc-sg`,
      {
        vpcId: args.vpcId,
        description: "DR services: only from the load balancer",
        ingress: args.services.map((s) => ({
          protocol: "tcp",
          fromPort: s.containerPort,
          toPort: s.containerPort,
          securityGroups: [lbSg.id],
          description: s.name,
        })),
        egress: [
          { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], description: "ECR, database, AWS APIs" },
        ],
      },
      parent,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-lb-to-services`,
      {
        securityGroupId: lbSg.id,
        referencedSecurityGroupId: this.serviceSecurityGroup.id,
        ipProtocol: "tcp",
        fromPort: 1,
        toPort: 65535,
      },
      parent,
    );
    this.loadBalancer = new aws.lb.LoadBalancer(
      `${name}-alb`,
      {
        loadBalancerType: "application",
        internal: false,
        subnets: args.publicSubnetIds,
        securityGroups: [lbSg.id],
        dropInvalidHeaderFields: true,
        enableDeletionProtection: true,
      },
      parent,
    );
    const executionRole = serviceRole(`${name}-execution`, "ecs-tasks.amazonaws.com", args.accountId, [], parent, [
      "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
    ]);
    const logs = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 30 }, parent);

    this.services = args.services.map((svc) => {
      const targetGroup = new aws.lb.TargetGroup(
        `${name}-${svc.name}-tg`,
        {
          port: svc.containerPort,
          protocol: "HTTP",
          targetType: "ip",
          vpcId: args.vpcId,
          healthCheck: { path: "/health", healthyThreshold: 2, unhealthyThreshold: 3, interval: 15, matcher: "200" },
        },
        parent,
      );
      const taskDefinition = new aws.ecs.TaskDefinition(
        `${name}-${svc.name}-task`,
        {
          family: svc.name,
          requiresCompatibilities: ["FARGATE"],
          networkMode: "awsvpc",
          cpu: "512",
          memory: "1024",
          executionRoleArn: executionRole.arn,
          containerDefinitions: pulumi.jsonStringify([
            {
              name: svc.name,
              image: pulumi.interpolate`${args.accountId}.dkr.ecr.${args.region}.amazonaws.com/${svc.repository}:${svc.imageTag}`,
              essential: true,
              portMappings: [{ containerPort: svc.containerPort, protocol: "tcp" }],
              logConfiguration: {
                logDriver: "awslogs",
                options: {
                  "awslogs-group": logs.name,
                  "awslogs-region": args.region,
                  "awslogs-stream-prefix": svc.name,
                },
              },
            },
          ]),
        },
        parent,
      );
      const service = new aws.ecs.Service(
        `${name}-${svc.name}`,
        {
          name: svc.name,
          cluster: this.cluster.arn,
          taskDefinition: taskDefinition.arn,
          desiredCount: svc.standbyCount ?? 0,
          launchType: "FARGATE",
          networkConfiguration: {
            subnets: args.privateSubnetIds,
            securityGroups: [this.serviceSecurityGroup.id],
            assignPublicIp: false,
          },
          loadBalancers: [
            { targetGroupArn: targetGroup.arn, containerName: svc.name, containerPort: svc.containerPort },
          ],
          deploymentCircuitBreaker: { enable: true, rollback: true },
          healthCheckGracePeriodSeconds: 60,
        },
        { ...parent, ignoreChanges: ["desiredCount"] },
      );
      return { name: svc.name, recoveryCount: svc.recoveryCount, service, targetGroup };
    });

    const byPath = this.services.filter((_, i) => args.services[i].paths?.length);
    const fallback = this.services.find((_, i) => !args.services[i].paths?.length) ?? this.services[0];
    const https = new aws.lb.Listener(
      `${name}-https`,
      {
        loadBalancerArn: this.loadBalancer.arn,
        port: 443,
        protocol: "HTTPS",
        sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
        certificateArn: args.certificateArn,
        defaultActions: [{ type: "forward", targetGroupArn: fallback.targetGroup.arn }],
      },
      parent,
    );
    byPath.forEach(
      (s, i) =>
        new aws.lb.ListenerRule(
          `${name}-${s.name}-paths`,
          {
            listenerArn: https.arn,
            priority: 10 + i,
            conditions: [{ pathPattern: { values: args.services.find((a) => a.name === s.name)?.paths ?? [] } }],
            actions: [{ type: "forward", targetGroupArn: s.targetGroup.arn }],
          },
          parent,
        ),
    );
    new aws.lb.Listener(
      `${name}-http`,
      {
        loadBalancerArn: this.loadBalancer.arn,
        port: 80,
        protocol: "HTTP",
        defaultActions: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
      },
      parent,
    );

    this.registerOutputs({ clusterName: this.cluster.name, loadBalancerDnsName: this.loadBalancer.dnsName });
  }
}
