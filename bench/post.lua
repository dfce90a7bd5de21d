-- wrk script: POST a small JSON body.
wrk.method = "POST"
wrk.body   = '{"name":"Ada","id":42}'
wrk.headers["Content-Type"] = "application/json"
