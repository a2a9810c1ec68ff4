/**
 * lambda.ts: the seeds' lambda-style executor, on podrunner.
 *
 *     bun example/lambda.ts          (as root, after make)
 *
 * prints {"message": "hello world"}: the untrusted code ran in a pod of
 * its own under etc/lambda.json (no network, no file outside /tmp, no
 * program), in a Python worker that podrunner started for it and
 * stopped after it.  The function is the seeds' example as it is,
 * with the policy's path in this tree; a worker per call keeps calls
 * apart, at the price of a pod's start-up each (see supervisor.ts for
 * one worker serving many submissions).
 */
import { Supervisor } from "./supervisor";

interface ExecutionResult {
  output: string;
  error?: string;
  exitCode?: number;
}

export async function executeUntrustedCode(
  code: string,
  policyPath: string = new URL("../etc/lambda.json", import.meta.url).pathname
): Promise<ExecutionResult> {
  const supervisor = new Supervisor({
    shmSize: 1024 * 1024,  // 1MB
    workerType: "python",
    policyPath,
    sandboxEnabled: true,
  });

  let output = "";
  let error: string | undefined;
  let exitCode: number | undefined;

  supervisor.onEvent((event) => {
    if (event.type === "output") {
      output += event.data ?? "";
    }
    if (event.type === "error") {
      error = event.data;
    }
    if (event.type === "state" && event.data?.worker === "exec_end") {
      exitCode = event.data.exitCode ?? event.data.exit_code;
    }
  });

  await supervisor.start();
  supervisor.sendCode(code);

  // Wait for execution completion
  await new Promise<void>((resolve) => {
    const unsubscribe = supervisor.onEvent((event) => {
      if (
        event.type === "state" &&
        ["exec_end", "exception", "interrupted"].includes(event.data?.worker)
      ) {
        unsubscribe();
        resolve();
      }
    });
  });

  supervisor.stop();

  return { output, error, exitCode };
}

// Usage
if (import.meta.main) {
  const result = await executeUntrustedCode(`
import json
result = {"message": "hello world"}
print(json.dumps(result))
`);
  console.log(result.output);
}
