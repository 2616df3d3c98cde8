#!/bin/sh
# record.sh drives the official JavaScript SDK against examples/server -sandbox and
# rewrites exchanges.json, the fixture of TestSDKFixtures.
#
#   httpapi/testdata/sdk/record.sh /path/to/sdk-js
#
# The SDK (github.com/dinie-tech/sdk-js) is not published on npm: clone it outside this
# repository and build it first (npm install && npm run build). Run from the module root.
set -eu
sdk=${1:?usage: record.sh /path/to/built/sdk-js}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/server" ./examples/server
"$dir/server" -sandbox -addr 127.0.0.1:0 -db "$dir/db.sqlite" -blob "file://$dir/docs" >"$dir/out" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$dir/out")
secret=$(sed -n 's/.*secret=\(.*\)/\1/p' "$dir/out")
SDK_DIR=$sdk BASE_URL=$url CLIENT_ID=sandbox CLIENT_SECRET=$secret OUT=httpapi/testdata/sdk/exchanges.json \
	node httpapi/testdata/sdk/drive.mjs
