#!/usr/bin/env bash
# Assembles Furrow's runtime tree (what the container image's runtime stage holds) without Docker:
#
#   TARGET/package.json        the project's, minus its lifecycle scripts (a production install must not
#                              need TypeScript: `prepare` runs tsc)
#   TARGET/package-lock.json   unchanged, so production dependencies resolve exactly as in development
#   TARGET/node_modules/       `npm ci --omit=dev`: production dependencies only
#   TARGET/dist/src/           the compiled CLI and runtime (src/ only: no tests, no benches)
#   TARGET/bin/furrow.js       the launcher
#
# The build happens in a scratch copy of the sources, so the working tree's node_modules and dist are left
# alone. The Dockerfile's build stage runs this same script, so the image and this tree are the same.
#
# Usage: scripts/build-runtime-tree.sh TARGET_DIR
# Env:   FURROW_SRC   source tree (default: the repository this script is in)
#        NPM_FLAGS    extra flags for both npm ci runs (e.g. --offline, --prefer-offline)
set -euo pipefail

if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: $0 TARGET_DIR" >&2
  exit 2
fi

SRC="${FURROW_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TARGET="$1"
NPM_FLAGS="${NPM_FLAGS:-}"
# shellcheck disable=SC2206
npm_flags=(--no-audit --no-fund --loglevel=error $NPM_FLAGS)

if [[ -e "$TARGET" && -n "$(ls -A "$TARGET" 2>/dev/null)" ]]; then
  echo "build-runtime-tree: $TARGET exists and is not empty" >&2
  exit 1
fi
mkdir -p "$TARGET"
TARGET="$(cd "$TARGET" && pwd)"

BUILD="$(mktemp -d "${TMPDIR:-/tmp}/furrow-build.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT

# 1. Build stage: full install (dev dependencies included, no lifecycle scripts), compile src/ only.
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/tsconfig.json" "$BUILD/"
cp -R "$SRC/src" "$SRC/bin" "$BUILD/"
(
  cd "$BUILD"
  npm ci --ignore-scripts "${npm_flags[@]}"
  # The project tsconfig also includes test/ and bench/; here only src/ is compiled.
  cat >tsconfig.runtime.json <<'JSON'
{
  "extends": "./tsconfig.json",
  "compilerOptions": { "sourceMap": false, "incremental": false },
  "include": ["src/**/*.ts"],
  "exclude": ["src/**/*.test.ts"]
}
JSON
  node node_modules/typescript/bin/tsc -p tsconfig.runtime.json
)

# 2. Runtime stage: production dependencies only, from the same lock file.
node -e '
  const fs = require("node:fs");
  const pkg = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  delete pkg.scripts; // prepare (tsc) and friends: nothing to run in a production install
  fs.writeFileSync(process.argv[2], JSON.stringify(pkg, null, 2) + "\n");
' "$SRC/package.json" "$TARGET/package.json"
cp "$SRC/package-lock.json" "$TARGET/"
(
  cd "$TARGET"
  npm ci --omit=dev "${npm_flags[@]}"
)
mkdir -p "$TARGET/dist"
cp -R "$BUILD/dist/src" "$TARGET/dist/src"
cp -R "$BUILD/bin" "$TARGET/bin"
for f in LICENSE README.md; do
  if [[ -f "$SRC/$f" ]]; then cp "$SRC/$f" "$TARGET/"; fi
done
chmod 0755 "$TARGET/bin/furrow.js"

echo "build-runtime-tree: runtime tree ready in $TARGET ($(du -sh "$TARGET" | cut -f1))"
