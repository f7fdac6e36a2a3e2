# shellcheck shell=bash
# Connection settings for the local infrastructure started by deploy/local/infra.sh.
# Source it (`source deploy/local/env.sh`); every value keeps what the caller already set.
# Services and tests read these variables; the ports match infra.sh and deploy/compose.

: "${PGHOST:=127.0.0.1}"
: "${PGPORT:=5432}"
: "${PGUSER:=postgres}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
: "${KAFKA_BROKERS:=127.0.0.1:9092}"
: "${OPENSEARCH_URL:=http://127.0.0.1:9200}"
: "${SMTP_HOST:=127.0.0.1}"
: "${SMTP_PORT:=1025}"
# MailDev's REST API: GET /email, GET /email/:id, DELETE /email/:id, DELETE /email/all.
: "${SMTP_SINK_URL:=http://127.0.0.1:1080}"

export PGHOST PGPORT PGUSER REDIS_URL KAFKA_BROKERS OPENSEARCH_URL SMTP_HOST SMTP_PORT SMTP_SINK_URL
