/**
 * The Python harness, written into each work dir. It reads the per-run nonce and the payload from
 * stdin BEFORE any candidate code runs, parses the tests, runs the candidate, then runs the test
 * function statement by statement (each statement holding an assert is one test case), and only
 * after every case ran writes evidence.json carrying the nonce. A candidate that exits early,
 * raises SystemExit, prints a success line or deletes files leaves no valid evidence.
 */
export const EVIDENCE_FILE = 'halo_evidence.json';

export const PYTHON_HARNESS = String.raw`
import ast, json, os, sys

def _halo_main():
    nonce = sys.stdin.readline().strip()
    payload = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)
    write, dumps, open_fd, close = os.write, json.dumps, os.open, os.close
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    evidence_path = os.path.abspath(${JSON.stringify(EVIDENCE_FILE)})
    tests = ast.parse(payload["tests"], filename="<tests>")
    prelude = [node for node in tests.body if not (isinstance(node, ast.FunctionDef) and node.name == payload["test_function"])]
    target = [node for node in tests.body if isinstance(node, ast.FunctionDef) and node.name == payload["test_function"]]
    if not target:
        raise SystemExit("harness: test function %s not found" % payload["test_function"])
    params = [a.arg for a in target[0].args.args]
    cases = [compile(ast.Module(body=[stmt], type_ignores=[]), "<tests>", "exec") for stmt in target[0].body]
    every = payload.get("every_statement_is_case", False)
    is_case = [every or any(isinstance(n, ast.Assert) for n in ast.walk(stmt)) for stmt in target[0].body]
    prelude_code = compile(ast.Module(body=prelude, type_ignores=[]), "<tests>", "exec")
    program_code = compile(payload["program"], "<candidate>", "exec")
    namespace = {"__name__": "__candidate__"}
    exec(program_code, namespace)
    test_ns = dict(namespace)
    test_ns["__name__"] = "__tests__"
    exec(prelude_code, test_ns)
    for name, value in zip(params, payload["test_args"]):
        test_ns[name] = namespace[value] if value in namespace else test_ns[value]
    total = sum(is_case)
    passed = 0
    failures = []
    for index, code in enumerate(cases):
        try:
            exec(code, test_ns)
            if is_case[index]:
                passed += 1
        except Exception as error:
            failures.append("%s: %s" % (type(error).__name__, str(error)[:200]))
            if not is_case[index]:
                break
    fd = open_fd(evidence_path, flags, 0o600)
    write(fd, dumps({"nonce": nonce, "passed": passed, "total": total, "failures": failures[:5]}).encode())
    close(fd)

_halo_main()
`;
