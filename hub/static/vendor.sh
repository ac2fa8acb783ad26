#!/usr/bin/env bash
# Installs the front-end packages named in package.json with npm and copies the files the hub
# serves into vendor/, which is committed so that `pip install` alone gives a working hub.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
(cd "$work" && npm install --no-audit --no-fund --silent)
m="$work/node_modules"
cp "$m/graphiql/graphiql.min.js" "$m/graphiql/graphiql.min.css" "$here/vendor/"
cp "$m/react/umd/react.production.min.js" "$m/react-dom/umd/react-dom.production.min.js" "$here/vendor/"
cp "$m/@graphiql/plugin-explorer/dist/index.umd.js" "$here/vendor/plugin-explorer.umd.js"
cp "$m/@graphiql/plugin-explorer/dist/style.css" "$here/vendor/plugin-explorer.css"
cp "$m/js-cookie/dist/js.cookie.min.js" "$here/vendor/"
# the map page (hub/static/map): Leaflet keeps its images beside its CSS, which names them relatively
mkdir -p "$here/vendor/leaflet/images"
cp "$m/leaflet/dist/leaflet.js" "$m/leaflet/dist/leaflet.css" "$here/vendor/leaflet/"
cp "$m/leaflet/dist/images/"*.png "$here/vendor/leaflet/images/"
cp "$m/leaflet.markercluster/dist/leaflet.markercluster.js" "$m/leaflet.markercluster/dist/MarkerCluster.css" \
  "$m/leaflet.markercluster/dist/MarkerCluster.Default.css" "$here/vendor/leaflet/"
cp "$m/graphql-ws/umd/graphql-ws.min.js" "$here/vendor/"
# the voting page (hub/static/vote) checks receipts in the browser: sm-crypto's UMD builds set the
# globals sm2 and sm3 and carry jsbn (its BigInteger) inside, so jsbn's licence goes beside them
mkdir -p "$here/vendor/sm-crypto"
cp "$m/sm-crypto/dist/sm2.js" "$m/sm-crypto/dist/sm3.js" "$here/vendor/sm-crypto/"
for package in graphiql react react-dom @graphiql/plugin-explorer js-cookie leaflet leaflet.markercluster graphql-ws sm-crypto jsbn; do
  license="$(ls "$m/$package" | grep -i '^licen[cs]e' | head -1 || true)"
  if [ -z "$license" ]; then  # leaflet.markercluster's is MIT-LICENCE.txt (sm-crypto's LICENCE_MIT matches above)
    license="$(ls "$m/$package" | grep -i 'licen[cs]e' | head -1 || true)"
  fi
  [ -n "$license" ] && cp "$m/$package/$license" "$here/vendor/LICENSE.$(basename "$package")"
done
echo "vendored into $here/vendor"
