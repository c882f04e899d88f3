/**
 * What the mock runtime answers for each resource: its inputs plus the computed properties AWS
 * would fill in (ARNs, ids, DNS names…), derived from the logical name so every run is the
 * same. Used by `evaluate.ts`; nothing here is real.
 */
export const MOCK_ACCOUNT_ID = "111122223333";
/** What `aws.route53.getZone` answers for the zone's delegation set under mocks. */
export const MOCK_NAME_SERVERS = [
  "ns-1536.awsdns-00.co.uk",
  "ns-0.awsdns-00.com",
  "ns-1024.awsdns-00.org",
  "ns-512.awsdns-00.net",
];

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
const hex = (name: string) => {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
};

/** The id and output state of a mocked resource. */
export function mockResourceState(
  type: string,
  name: string,
  inputs: Record<string, any>,
  region: string,
): { id: string; state: Record<string, any> } {
  const [pkg, moduleAndFile] = type.split(":");
  const service = (moduleAndFile ?? "").split("/")[0];
  const physical = inputs.name ?? `${slug(name)}-${hex(name).slice(0, 7)}`;
  const arn = `arn:aws:${service}:${region}:${MOCK_ACCOUNT_ID}:${slug(type.split(":").pop() ?? "")}/${physical}`;
  const state: Record<string, any> = { ...inputs };
  let id = `${physical}-id`;
  if (pkg === "pulumi") return { id: `${slug(name)}-provider-id`, state };
  if (pkg === "kubernetes")
    return { id: `${inputs.metadata?.namespace ?? "default"}/${inputs.metadata?.name ?? physical}`, state };
  state.arn = arn;
  switch (type) {
    case "aws:s3/bucket:Bucket":
      state.bucket = inputs.bucket ?? physical;
      state.arn = `arn:aws:s3:::${state.bucket}`;
      id = state.bucket;
      break;
    case "aws:kms/key:Key":
      id = `${hex(name)}-0000-4000-8000-${hex(name + "k")}0000`;
      state.keyId = id;
      state.arn = `arn:aws:kms:${region}:${MOCK_ACCOUNT_ID}:key/${id}`;
      break;
    case "aws:rds/instance:Instance":
      id = inputs.identifier;
      state.address = `${inputs.identifier}.c0mock.${region}.rds.amazonaws.com`;
      state.endpoint = `${state.address}:${inputs.port ?? 5432}`;
      state.resourceId = `db-${hex(name).toUpperCase()}MOCK`;
      state.arn = `arn:aws:rds:${region}:${MOCK_ACCOUNT_ID}:db:${inputs.identifier}`;
      state.masterUserSecrets = [
        {
          secretArn: `arn:aws:secretsmanager:${region}:${MOCK_ACCOUNT_ID}:secret:rds!db-${hex(name)}-AbCdEf`,
          secretStatus: "active",
          kmsKeyId: inputs.masterUserSecretKmsKeyId,
        },
      ];
      break;
    case "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication":
      id = `arn:aws:rds:${region}:${MOCK_ACCOUNT_ID}:auto-backup:ab-${hex(name)}mock`;
      break;
    case "aws:rds/subnetGroup:SubnetGroup":
    case "aws:rds/parameterGroup:ParameterGroup":
    case "aws:elasticache/subnetGroup:SubnetGroup":
      state.name = physical;
      id = physical;
      break;
    case "aws:ec2/securityGroup:SecurityGroup":
      id = `sg-${hex(name)}${hex(name + "sg").slice(0, 9)}`;
      break;
    case "aws:lb/loadBalancer:LoadBalancer":
      state.dnsName = `${physical}-1234567890.${region}.elb.amazonaws.com`;
      state.arnSuffix = `app/${physical}/${hex(name)}`;
      state.arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:loadbalancer/${state.arnSuffix}`;
      break;
    case "aws:lb/targetGroup:TargetGroup":
      state.arn = `arn:aws:elasticloadbalancing:${region}:${MOCK_ACCOUNT_ID}:targetgroup/${physical.slice(0, 24)}/${hex(name)}`;
      break;
    case "aws:route53/healthCheck:HealthCheck":
      id = `${hex(name)}-aaaa-4bbb-8ccc-${hex(name + "hc")}dddd`;
      break;
    case "aws:backup/vault:Vault":
      id = inputs.name;
      state.arn = `arn:aws:backup:${region}:${MOCK_ACCOUNT_ID}:backup-vault:${inputs.name}`;
      break;
    case "aws:backup/plan:Plan":
      id = `${hex(name)}-1111-4222-8333-${hex(name + "p")}4444`;
      break;
    case "aws:elasticache/replicationGroup:ReplicationGroup":
      id = inputs.replicationGroupId;
      state.primaryEndpointAddress = `master.${inputs.replicationGroupId}.${hex(name).slice(0, 6)}.${region.replace(/-/g, "")}.cache.amazonaws.com`;
      break;
    case "aws:ecs/cluster:Cluster":
      state.arn = `arn:aws:ecs:${region}:${MOCK_ACCOUNT_ID}:cluster/${inputs.name}`;
      break;
    case "aws:iam/role:Role":
      state.name = physical;
      state.arn = `arn:aws:iam::${MOCK_ACCOUNT_ID}:role/${physical}`;
      break;
    case "aws:sns/topic:Topic":
      state.arn = `arn:aws:sns:${region}:${MOCK_ACCOUNT_ID}:${physical}`;
      break;
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      state.name = physical;
      break;
  }
  return { id, state };
}
