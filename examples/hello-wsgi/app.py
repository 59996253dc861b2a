# A standard WSGI app: any WSGI framework's `app` object works the same way.
# The project's env is the process env (os.environ) of its sandboxed process.
import json
import os


def app(environ, start_response):
    body = json.dumps({
        "hello": os.environ.get("GREETING", "world"),
        "runtime": "python-wsgi",
        "path": environ["PATH_INFO"],
        "query": environ.get("QUERY_STRING", ""),
    }).encode()
    start_response("200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))])
    return [body]
