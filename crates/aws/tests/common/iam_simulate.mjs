// Evaluates requests against identity policies as IAM does, with @cloud-copilot/iam-simulate
// (node_modules, installed by scripts/tools.sh). Used by the Rust tests (common/iam.rs).
// stdin:  {"principal": ARN, "account": ID, "policies": [{"name", "policy"}],
//          "requests": [{"action", "resource", "context": {key: value}}]}
// stdout: [{"action", "resource", "result": "Allowed" | "ImplicitlyDenied" | ..., "errors"?}]
import { runSimulation } from '@cloud-copilot/iam-simulate';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const out = [];
for (const r of input.requests) {
  const response = await runSimulation(
    {
      identityPolicies: input.policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: r.action,
        principal: input.principal,
        resource: { accountId: input.account, resource: r.resource },
        contextVariables: r.context ?? {},
      },
    },
    {},
  );
  const entry = { action: r.action, resource: r.resource, result: response.overallResult ?? 'Error' };
  if (response.resultType === 'error') entry.errors = response.errors;
  out.push(entry);
}
process.stdout.write(JSON.stringify(out));
