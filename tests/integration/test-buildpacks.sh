#!/bin/bash
# The built-in buildpacks (buildpacks/*) on their example apps (tests/apps/*),
# run the way the buildpack runner runs them: a copy of the app as BUILD_DIR,
# a clean environment, bin/detect, bin/compile BUILD_DIR CACHE_DIR ENV_DIR,
# bin/release (parsed with a real YAML parser), then the web process started
# after sourcing .profile.d/*.sh, answering HTTP on a free loopback port.
# Also: which buildpacks detect which app (the documented order picks the
# language one over procfile), the npm and CMake caches reused by a second
# build, and the python buildpack's refusal of anything needing the network.
# shellcheck source-path=SCRIPTDIR source=../lib/framework.sh
# shellcheck disable=SC2016,SC2317 # single-quoted programs for other shells; functions run via helpers
. "$(dirname "${BASH_SOURCE[0]}")/../lib/framework.sh"
# shellcheck source=../lib/repo.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/repo.sh"

require_cmd curl
# Debian's own python3 runs the YAML checks: never a python3 from elsewhere.
SYSTEM_PYTHON=/usr/bin/python3
"$SYSTEM_PYTHON" -c 'import yaml' 2>/dev/null || skip "python3-yaml is missing (it parses bin/release output)"

BUILDPACKS="$APTSHIP_SOURCE_DIR/buildpacks"
APPS="$APTSHIP_SOURCE_DIR/tests/apps"
# The auto-detection order documented in buildpacks/README.md.
ORDER=(nodejs python cmake static procfile)
mkdir -p "$T/home"

# in_build_env CMD...: CMD in the environment the runner gives buildpacks.
in_build_env() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/home" "$@"; }

# new_app NAME DIR: a fresh copy of tests/apps/NAME as DIR/app, with
# DIR/cache and DIR/env (created when missing: a cache outlives its app).
new_app() {
  rm -rf "$2/app"
  mkdir -p "$2/cache" "$2/env"
  cp -a "$APPS/$1" "$2/app"
}

# yaml_get FILE [KEY...]: the value at KEY... of the YAML document FILE: a
# scalar on one line, a list one item a line, a mapping as its sorted keys.
# Fails when a key is missing; an empty document is an empty mapping.
yaml_get() {
  "$SYSTEM_PYTHON" - "$@" <<'PY'
import sys, yaml
with open(sys.argv[1]) as f:
    node = yaml.safe_load(f)
if node is None:
    node = {}
for key in sys.argv[2:]:
    if not isinstance(node, dict) or key not in node:
        sys.exit(f'no key {key!r}')
    node = node[key]
if isinstance(node, dict):
    print('\n'.join(sorted(node)))
elif isinstance(node, list):
    print('\n'.join(str(item) for item in node))
else:
    print(node)
PY
}

# testheroku FILE: every line of the compile output FILE is a "-----> "
# heading or a detail indented by 7 spaces.
testheroku() {
  if grep -vqE '^(-----> |       )' "$1"; then
    _fail "$1 is Heroku-style output" "these lines are neither headings nor indented:"
    grep -vE '^(-----> |       )' "$1" | head -n 10 | sed 's/^/        | /'
  else
    _pass "$1 is Heroku-style output"
  fi
}

# check_detect APP DIR EXPECTED...: each buildpack's bin/detect on DIR
# accepts it (printing its name) exactly when listed in EXPECTED, and the
# first in the documented order is APP.
check_detect() {
  local app=$1 dir=$2 bp first=''
  shift 2
  for bp in "${ORDER[@]}"; do
    if [[ " $* " == *" $bp "* ]]; then
      testequal "$bp" in_build_env "$BUILDPACKS/$bp/bin/detect" "$dir"
      [ -n "$first" ] || first=$bp
    else
      testfailure in_build_env "$BUILDPACKS/$bp/bin/detect" "$dir"
    fi
  done
  testtrue "auto-detection in the documented order picks $app for tests/apps/$app" \
    test "$first" = "$app"
}

# compile APP DIR: bin/compile of buildpack APP on DIR/app with DIR/cache and
# DIR/env; its output is kept in DIR/compile.out.
compile() {
  local app=$1 dir=$2
  testsuccess in_build_env "$BUILDPACKS/$app/bin/compile" "$dir/app" "$dir/cache" "$dir/env"
  cp "$OUT" "$dir/compile.out"
  testheroku "$dir/compile.out"
}

# release APP DIR: bin/release of buildpack APP on DIR/app; its YAML is kept
# in DIR/release.yml and may hold only the documented keys.
release() {
  local app=$1 dir=$2
  testsuccess in_build_env "$BUILDPACKS/$app/bin/release" "$dir/app"
  cp "$OUT" "$dir/release.yml"
  yaml_get "$dir/release.yml" >"$dir/release.keys" || true
  testtrue "$app: bin/release prints YAML with documented top-level keys only" \
    "$SYSTEM_PYTHON" -c 'import sys
keys = open(sys.argv[1]).read().split()
sys.exit(any(k not in ("default_process_types", "config_vars", "depends") for k in keys))' \
    "$dir/release.keys"
}

# web_command DIR: the web process of DIR/app: its Procfile's, else the
# release's default.
web_command() {
  local dir=$1
  if [ -f "$dir/app/Procfile" ]; then
    sed -n 's/^web:[[:space:]]*//p' "$dir/app/Procfile"
  else
    yaml_get "$dir/release.yml" default_process_types web
  fi
}

# serve APP DIR GREETING: starts DIR/app's web process as a package would
# (HOME and working directory the app, .profile.d sourced, PORT and GREETING
# set, a clean environment), waits until it answers and keeps the body of
# GET / in DIR/body; sets WEB_PID and WEB_URL.
serve() {
  local app=$1 dir=$2 greeting=$3 command port _i
  command=$(web_command "$dir")
  port=$(free_port)
  WEB_URL="http://127.0.0.1:$port"
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$dir/app" PORT="$port" GREETING="$greeting" \
    bash -c 'cd "$HOME" || exit 1
      for f in .profile.d/*.sh; do if [ -f "$f" ]; then . "$f"; fi; done
      exec bash -c "$1"' web "$command" >"$dir/web.log" 2>&1 &
  WEB_PID=$!
  track_pid "$WEB_PID"
  for _i in $(seq 1 300); do
    [ "$(http_status "$WEB_URL/")" = 000 ] || break
    kill -0 "$WEB_PID" 2>/dev/null || break
    sleep 0.1
  done
  if curl --noproxy '*' -sf --max-time 10 -o "$dir/body" "$WEB_URL/"; then
    _pass "$app: web process '$command' answers GET / on $WEB_URL"
  else
    : >"$dir/body"
    _fail "$app: web process '$command' answers GET / on $WEB_URL" "it does not; its log:"
    _show log "$dir/web.log"
  fi
}

# run_app APP: the whole cycle for tests/apps/APP in $T/APP.
run_app() {
  local app=$1 dir=$T/$1
  new_app "$app" "$dir"
  compile "$app" "$dir"
  release "$app" "$dir"
  local script
  for script in "$dir"/app/.profile.d/*.sh; do
    [ -f "$script" ] || continue
    testsuccess sh -n "$script"
  done
  serve "$app" "$dir" "greetings-from-the-$app-config"
  testgrep "hello from $app" "$dir/body"
}

msg "every buildpack has executable bin/detect, bin/compile and bin/release"
for bp in "${ORDER[@]}"; do
  for step in detect compile release; do
    testtrue "buildpacks/$bp/bin/$step is executable" test -x "$BUILDPACKS/$bp/bin/$step"
  done
done
if command -v shellcheck >/dev/null; then
  testsuccess shellcheck -s bash "$BUILDPACKS"/*/bin/*
fi
testfile "$BUILDPACKS/README.md"

msg "detection: each example app, by each buildpack"
check_detect nodejs "$APPS/nodejs" nodejs
check_detect python "$APPS/python" python procfile
check_detect cmake "$APPS/cmake" cmake
check_detect static "$APPS/static" static
check_detect procfile "$APPS/procfile" procfile
mkdir -p "$T/empty"
for bp in "${ORDER[@]}"; do
  testfailure in_build_env "$BUILDPACKS/$bp/bin/detect" "$T/empty"
done

# ---------------------------------------------------------------- nodejs

msg "nodejs: npm ci with Debian's node, web process from scripts.start"
run_app nodejs
D=$T/nodejs
testgrep '^-----> Installing dependencies with npm ci' "$D/compile.out"
testequal nodejs yaml_get "$D/release.yml" depends
testequal 'node server.js' yaml_get "$D/release.yml" default_process_types web
testequal production yaml_get "$D/release.yml" config_vars NODE_ENV
testgrep '^greetings-from-the-nodejs-config$' "$D/body"
stop_pid "$WEB_PID"
testequal "$D/app/node_modules/.bin" \
  env -i PATH=/usr/bin:/bin sh -c ". '$D/app/.profile.d/nodejs.sh' && echo \"\${PATH%%:*}\""
testtrue "the npm cache in CACHE_DIR/npm is not empty" test -n "$(ls -A "$D/cache/npm")"

msg "nodejs: a second build reuses the npm cache"
new_app nodejs "$D"
compile nodejs "$D"
testgrep '^-----> Reusing the npm cache' "$D/compile.out"

msg "nodejs: no lock file, npm install; release without scripts.start"
new_app nodejs "$T/nodejs-nolock"
rm "$T/nodejs-nolock/app/package-lock.json"
compile nodejs "$T/nodejs-nolock"
testgrep '^-----> Installing dependencies with npm install' "$T/nodejs-nolock/compile.out"
testnogrep 'Reusing' "$T/nodejs-nolock/compile.out"
"$SYSTEM_PYTHON" - "$T/nodejs-nolock/app/package.json" <<'PY'
import json, sys
pkg = json.load(open(sys.argv[1]))
del pkg['scripts']
json.dump(pkg, open(sys.argv[1], 'w'))
PY
release nodejs "$T/nodejs-nolock"
testequal 'node server.js' yaml_get "$T/nodejs-nolock/release.yml" default_process_types web

msg "nodejs: a start script YAML would misread is quoted"
"$SYSTEM_PYTHON" - "$T/nodejs-nolock/app/package.json" <<'PY'
import json, sys
pkg = json.load(open(sys.argv[1]))
pkg['scripts'] = {'start': 'node server.js --mode: fast # "quoted" \\ end'}
json.dump(pkg, open(sys.argv[1], 'w'))
PY
release nodejs "$T/nodejs-nolock"
testequal 'node server.js --mode: fast # "quoted" \ end' \
  yaml_get "$T/nodejs-nolock/release.yml" default_process_types web
testfailuremsg 'package.json' in_build_env "$BUILDPACKS/nodejs/bin/release" "$T/empty"

# ---------------------------------------------------------------- python

msg "python: a venv of Debian's python3, dependencies from vendored wheels"
run_app python
D=$T/python
testgrep '^greetings-from-the-python-config$' "$D/body"
stop_pid "$WEB_PID"
testequal /usr/bin/python3 readlink "$D/app/.venv/bin/python3"
testtrue "hellogreeting is installed in the venv" \
  in_build_env "$D/app/.venv/bin/python3" -c 'import hellogreeting'
PY_MINOR=$("$SYSTEM_PYTHON" -c 'import sys; print(sys.version_info[1])')
testequal "python3 (>= 3.$PY_MINOR~)
python3 (<< 3.$((PY_MINOR + 1)))" yaml_get "$D/release.yml" depends
testequal depends yaml_get "$D/release.yml"
testequal "$D/app/.venv/bin" \
  env -i PATH=/usr/bin:/bin sh -c ". '$D/app/.profile.d/python.sh' && echo \"\${PATH%%:*}\""

msg "python: a dependency that is not vendored fails the build, named"
new_app python "$T/python-missing"
printf 'hellogreeting==1.0\nnotvendored==2.0\n' >"$T/python-missing/app/requirements.txt"
testfailuremsg 'needs the network: notvendored==2.0' \
  in_build_env "$BUILDPACKS/python/bin/compile" "$T/python-missing/app" \
  "$T/python-missing/cache" "$T/python-missing/env"
cp "$ERR" "$T/python-missing/compile.err"
testequal "1 $T/python-missing/compile.err" wc -l "$T/python-missing/compile.err"
testgrep '^ !     python: needs the network: notvendored==2.0 ' "$T/python-missing/compile.err"
new_app python "$T/python-index"
printf -- '--index-url https://pypi.example.org/simple\nhellogreeting==1.0\n' \
  >"$T/python-index/app/requirements.txt"
testfailuremsg 'needs the network: requirements.txt names a package index' \
  in_build_env "$BUILDPACKS/python/bin/compile" "$T/python-index/app" \
  "$T/python-index/cache" "$T/python-index/env"

msg "python: pyproject.toml [project] dependencies"
new_app python "$T/python-pyproject"
rm "$T/python-pyproject/app/requirements.txt"
cat >"$T/python-pyproject/app/pyproject.toml" <<'EOF'
[project]
name = "hello-python"
version = "1.0"
dependencies = ["hellogreeting>=1.0"]
EOF
testequal python in_build_env "$BUILDPACKS/python/bin/detect" "$T/python-pyproject/app"
compile python "$T/python-pyproject"
testtrue "hellogreeting is installed from pyproject.toml's dependencies" \
  in_build_env "$T/python-pyproject/app/.venv/bin/python3" -c 'import hellogreeting'
cat >"$T/python-pyproject/app/pyproject.toml" <<'EOF'
[tool.poetry]
name = "hello-python"

[tool.poetry.dependencies]
hellogreeting = "^1.0"
EOF
testfailuremsg '[tool.poetry.dependencies]' \
  in_build_env "$BUILDPACKS/python/bin/compile" "$T/python-pyproject/app" \
  "$T/python-pyproject/cache" "$T/python-pyproject/env"

# ---------------------------------------------------------------- cmake

msg "cmake: build and install into the app, depends from dpkg-shlibdeps"
run_app cmake
D=$T/cmake
testgrep '^greetings-from-the-cmake-config$' "$D/body"
stop_pid "$WEB_PID"
testtrue "bin/hello-cmake is installed in the app" test -x "$D/app/bin/hello-cmake"
testequal bin/hello-cmake yaml_get "$D/release.yml" default_process_types web
testsuccess yaml_get "$D/release.yml" depends
testgrep '^libc6 \(>= [0-9][0-9.]*\)$' "$OUT"
testnofile "$D/app/CMakeCache.txt"
testfile "$D/cache/cmake-build/CMakeCache.txt"

msg "cmake: a second build reuses the build tree; ENV_DIR sets the build type"
new_app cmake "$D"
printf Debug >"$D/env/CMAKE_BUILD_TYPE"
compile cmake "$D"
testgrep '^-----> Reusing the build tree' "$D/compile.out"
testgrep '^-----> .*build type Debug$' "$D/compile.out"
testtrue "bin/hello-cmake is installed again" test -x "$D/app/bin/hello-cmake"

msg "cmake: a compiler error fails the build, said on the last line"
new_app cmake "$T/cmake-broken"
printf 'int main(void) { return missing; }\n' >"$T/cmake-broken/app/main.c"
testfailuremsg 'cmake: building failed' \
  in_build_env "$BUILDPACKS/cmake/bin/compile" "$T/cmake-broken/app" "$T/cmake-broken/cache" \
  "$T/cmake-broken/env"
testgrep "main.c.*missing" "$OUT"

# ---------------------------------------------------------------- static

msg "static: public/ served by the shipped web server"
run_app static
D=$T/static
testequal '/usr/bin/python3 .static/serve.py public' yaml_get "$D/release.yml" default_process_types web
testequal python3 yaml_get "$D/release.yml" depends
testequal 200 http_status "$WEB_URL/index.html"
testequal 404 http_status "$WEB_URL/missing.html"
stop_pid "$WEB_PID"

msg "static: a site at the top directory never serves dotfiles"
new_app static "$T/static-top"
mv "$T/static-top/app/public/index.html" "$T/static-top/app/index.html"
rmdir "$T/static-top/app/public"
mkdir -p "$T/static-top/app/empty-dir"
compile static "$T/static-top"
release static "$T/static-top"
serve static "$T/static-top" unused
testgrep '^  <p>hello from static</p>$' "$T/static-top/body"
testequal 404 http_status "$WEB_URL/.static/serve.py"
testequal 404 http_status "$WEB_URL/%2estatic/serve.py"
testequal 404 http_status "$WEB_URL/empty-dir/"
stop_pid "$WEB_PID"

# ---------------------------------------------------------------- procfile

msg "procfile: shipped as is, no release keys"
run_app procfile
D=$T/procfile
testgrep '^greetings-from-the-procfile-config$' "$D/body"
stop_pid "$WEB_PID"
testtrue "release prints an empty document" test ! -s "$D/release.yml"
testdiff "compile leaves the app as it was" <(cd "$APPS/procfile" && find . | sort) \
  <(cd "$D/app" && find . | sort)
printf '# no processes\n' >"$D/app/Procfile"
testfailuremsg 'declares no process' \
  in_build_env "$BUILDPACKS/procfile/bin/compile" "$D/app" "$D/cache" "$D/env"

finish
