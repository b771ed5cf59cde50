#!/bin/sh
# The image's entrypoint: the first argument names the process (deploy/Dockerfile, docs/operations.md).
# The commands are the ones `make up` runs (shuangjian/localrun.py: service_argv, worker_argv, feed_argv).
set -e

process="${1:-help}"
case "$process" in
    registry|escrow|inspection|reporting|gateway)
        shift
        export SHUANGJIAN_PROCESS="$process"
        exec nameko run "services.$process.service" --config /app/deploy/nameko.yaml "$@"
        ;;
    worker)
        shift
        export SHUANGJIAN_PROCESS=worker
        exec python -m workflows.worker "$@"
        ;;
    feed|escrow_feed)
        shift
        export SHUANGJIAN_PROCESS=feed
        exec python -m services.escrow.feed "$@"
        ;;
    help|--help|-h)
        cat <<'USAGE'
usage: <image> PROCESS [ARGS...]
  registry | escrow | inspection | reporting | gateway   a nameko service (deploy/nameko.yaml)
  worker                                                 the Temporal worker (python -m workflows.worker)
  feed [--migrate]                                       the bank feed (python -m services.escrow.feed)
  COMMAND ...                                            anything else, e.g. `shuangjian health`
USAGE
        ;;
    *)
        exec "$@"
        ;;
esac
