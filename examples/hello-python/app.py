# The reference daemon's Python form: async handle(...) -> (status, headers, body).
# `path` includes the query string.
import json


async def handle(method, path, headers, body, env):
    payload = {"hello": env.get("GREETING", "world"), "runtime": "python", "method": method, "path": path}
    return 200, {"content-type": "application/json"}, json.dumps(payload).encode()
