#!/usr/bin/env bash
# Real local infrastructure without Docker: PostgreSQL and Redis from the OS, Apache Kafka (KRaft)
# and OpenSearch from Maven Central artifacts (Java 17), and a MailDev SMTP sink from npm.
#
#   infra.sh up                  start everything that is not running, wait until ready
#   infra.sh down                stop what this script started (never OS services it found running)
#   infra.sh status              each part up/down with its address (exit 3 if any is down)
#   infra.sh stop  kafka|opensearch|smtp    stop one part (data is kept)
#   infra.sh start kafka|opensearch|smtp    start one part and wait until it is ready
#   infra.sh restart kafka|opensearch|smtp
#   infra.sh logs  kafka|opensearch|smtp|redis   tail that part's log
#
# Downloads and unpacked installs are cached in $SHOPMESH_CACHE (default ~/.cache/shopmesh);
# runtime state (pid files, data, logs) lives in $SHOPMESH_INFRA_DIR (default <repo>/.infra,
# gitignored). See deploy/local/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="${SHOPMESH_INFRA_DIR:-$ROOT/.infra}"
CACHE="${SHOPMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shopmesh}"

# Versions: keep in step with deploy/compose/docker-compose.yml.
KAFKA_VERSION="${SHOPMESH_KAFKA_VERSION:-3.9.2}"
OPENSEARCH_VERSION="${SHOPMESH_OPENSEARCH_VERSION:-2.19.6}"
PG_CLUSTER="${SHOPMESH_PG_CLUSTER:-15/main}"
# OpenSearch refuses to run as root; when we are root it runs as this unprivileged user.
RUN_USER="${SHOPMESH_RUN_USER:-shopmesh}"

HOST=127.0.0.1
PG_PORT=5432
REDIS_PORT=6379
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
OPENSEARCH_PORT=9200
OPENSEARCH_TRANSPORT_PORT=9300
SMTP_PORT=1025
SMTP_HTTP_PORT=1080

KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
OPENSEARCH_DIST="$CACHE/opensearch-$OPENSEARCH_VERSION"
MAILDEV_BIN="$ROOT/node_modules/maildev/bin/maildev"

KAFKA_WAIT=120
OPENSEARCH_WAIT=180
SMTP_WAIT=30

# ---------------------------------------------------------------------------------------------
# helpers

log() { printf 'infra: %s\n' "$*" >&2; }
die() {
  printf 'infra: ERROR: %s\n' "$*" >&2
  exit 1
}

# tail_log <file>: the end of a log, for error messages.
tail_log() {
  if [[ -s $1 ]]; then
    printf -- '----- last lines of %s -----\n' "$1" >&2
    tail -n 40 "$1" >&2
    printf -- '-----\n' >&2
  fi
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# alive <pid>: the process exists and is not a zombie.
alive() {
  [[ -n ${1:-} && -r /proc/$1/stat ]] || return 1
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ ${stat%% *} != Z ]]
}

# running_pid <pidfile> <cmdline-regex>: prints the pid if the recorded process is alive and is
# still the process we started (guards against pid reuse after a reboot).
running_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid="$(<"$pidfile")"
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "$marker" || return 1
  echo "$pid"
}

# spawn <pidfile> <logfile> <cwd> <cmd...>: start a detached process in its own session, so
# Ctrl-C in the calling terminal or the end of `npm run` does not take it down. The pid is
# written by the process itself right before exec, so it is the pid of the final program.
spawn() {
  local pidfile=$1 logfile=$2 cwd=$3
  shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016
  (cd "$cwd" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@") \
    >>"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  die "could not start: $* (see $logfile)"
}

# stop_pid <name> <pidfile> <marker> <grace-seconds>: SIGTERM the process group, wait, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 marker=$3 grace=$4 pid i
  if ! pid="$(running_pid "$pidfile" "$marker")"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  log "$name: stopping (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name: still running after ${grace}s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# wait_for <name> <seconds> <pidfile> <marker> <logfile> <check-cmd...>: poll until the check
# passes; fail fast if the process died; on failure print the log tail.
wait_for() {
  local name=$1 seconds=$2 pidfile=$3 marker=$4 logfile=$5
  shift 5
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if [[ -n $pidfile ]] && ! running_pid "$pidfile" "$marker" >/dev/null; then
      log "$name: process exited during startup"
      tail_log "$logfile"
      return 1
    fi
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name: not ready after ${seconds}s"
  tail_log "$logfile"
  return 1
}

# with_lock: serialise up/down/start/stop between engineers and test runs sharing the checkout.
with_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  if ! flock -w 900 9; then die "another infra.sh holds $STATE/.lock for over 15 minutes"; fi
}

# mvn_quiet <logfile> <args...>: Maven in batch mode, its output kept in a file and shown only
# when it fails.
mvn_quiet() {
  local logfile=$1
  shift
  if ! mvn -B -ntp "$@" >"$logfile" 2>&1 </dev/null; then
    tail_log "$logfile"
    return 1
  fi
}

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

# ---------------------------------------------------------------------------------------------
# PostgreSQL and Redis: OS services. Started only if down, and then recorded, so `down` stops
# only what `up` started.

pg_up_check() { pg_isready -h "$HOST" -p "$PG_PORT" -q; }

postgres_up() {
  need pg_isready "install PostgreSQL 15 (apt-get install postgresql-15)"
  mkdir -p "$STATE/postgres"
  if ! pg_up_check; then
    need pg_ctlcluster "install PostgreSQL 15 (apt-get install postgresql-15 postgresql-common)"
    log "postgres: starting cluster $PG_CLUSTER"
    pg_ctlcluster --skip-systemctl-redirect "${PG_CLUSTER%/*}" "${PG_CLUSTER#*/}" start 9>&- ||
      die "postgres: pg_ctlcluster ${PG_CLUSTER/\// } start failed (logs in /var/log/postgresql/)"
    echo "$PG_CLUSTER" >"$STATE/postgres/started-by-infra"
    local i
    for ((i = 0; i < 60; i++)); do
      pg_up_check && break
      sleep 0.5
    done
    pg_up_check || die "postgres: not accepting connections on $HOST:$PG_PORT after 30s"
  fi
  if command -v psql >/dev/null 2>&1 &&
    ! psql -h "$HOST" -p "$PG_PORT" -U postgres -w -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    die "postgres: cannot log in as 'postgres' on $HOST:$PG_PORT without a password; shopmesh expects trust auth for local runs (pg_hba.conf: host all all 127.0.0.1/32 trust)"
  fi
}

postgres_down() {
  [[ -s $STATE/postgres/started-by-infra ]] || return 0
  local cluster
  cluster="$(<"$STATE/postgres/started-by-infra")"
  log "postgres: stopping cluster $cluster (started by infra.sh)"
  pg_ctlcluster --skip-systemctl-redirect "${cluster%/*}" "${cluster#*/}" stop 9>&- || true
  rm -f "$STATE/postgres/started-by-infra"
}

redis_up_check() { [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

redis_up() {
  need redis-cli "install Redis 7 (apt-get install redis-server)"
  mkdir -p "$STATE/redis"
  redis_up_check && return 0
  need redis-server "install Redis 7 (apt-get install redis-server)"
  log "redis: starting on $HOST:$REDIS_PORT"
  redis-server --daemonize yes --port "$REDIS_PORT" --bind "$HOST" --save "" --appendonly no \
    --dir "$STATE/redis" --logfile "$STATE/redis/redis.log" --pidfile "$STATE/redis/redis.pid" 9>&- ||
    die "redis: redis-server failed to start"
  echo "$REDIS_PORT" >"$STATE/redis/started-by-infra"
  local i
  for ((i = 0; i < 40; i++)); do
    redis_up_check && return 0
    sleep 0.25
  done
  tail_log "$STATE/redis/redis.log"
  die "redis: no PONG on $HOST:$REDIS_PORT after 10s"
}

redis_down() {
  [[ -s $STATE/redis/started-by-infra ]] || return 0
  log "redis: stopping (started by infra.sh)"
  redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$STATE/redis/started-by-infra"
}

# ---------------------------------------------------------------------------------------------
# Kafka: single-node KRaft (broker + controller in one JVM), jars resolved by Maven.

KAFKA_DIR="$STATE/kafka"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_MARKER='kafka\.Kafka'
KAFKA_LOG="$KAFKA_DIR/logs/server.log"
KAFKA_STDOUT="$KAFKA_DIR/logs/stdout.log"

kafka_install() {
  [[ -f $KAFKA_HOME/libs/.complete ]] && return 0
  need java "install a Java 17 runtime (apt-get install openjdk-17-jdk-headless)"
  need mvn "install Maven (apt-get install maven)"
  log "kafka: resolving Apache Kafka $KAFKA_VERSION jars from Maven Central (first run only)"
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn_quiet "$tmp.log" -f "$HERE/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" ||
    die "kafka: Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (network? ~/.m2 settings?)"
  rm -f "$tmp.log"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_HOME/libs"
  mv "$tmp" "$KAFKA_HOME/libs"
}

# The readiness probe is compiled once per source version into the cache.
kafka_ready_class_dir() {
  local sum
  sum="$(cksum <"$HERE/kafka/KafkaReady.java" | cut -d' ' -f1)"
  echo "$KAFKA_HOME/ready-$sum"
}

kafka_build_ready_probe() {
  local dir
  dir="$(kafka_ready_class_dir)"
  [[ -f $dir/KafkaReady.class ]] && return 0
  need javac "install a Java 17 JDK (apt-get install openjdk-17-jdk-headless)"
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  javac -nowarn -d "$dir.tmp" -cp "$KAFKA_HOME/libs/*" "$HERE/kafka/KafkaReady.java" ||
    die "kafka: could not compile the readiness probe"
  rm -rf "$KAFKA_HOME"/ready-*[0-9]
  mv "$dir.tmp" "$dir"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by deploy/local/infra.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
default.replication.factor=1
min.insync.replicas=1
num.partitions=3
# The platform creates its topics explicitly.
auto.create.topics.enable=false
# Tests start consumers and expect partitions assigned at once.
group.initial.rebalance.delay.ms=0
# Small footprint for a dev machine.
log.cleaner.dedupe.buffer.size=33554432
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
log.retention.hours=72
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=20MB
log4j.appender.server.MaxBackupIndex=2
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
  cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=ERROR, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=%p %m (%c)%n
EOF
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'
# (the same rules as org.apache.kafka.common.Uuid.randomUuid). Created once and kept.
kafka_cluster_id() {
  local file="$KAFKA_DIR/cluster.id" id
  if [[ ! -s $file ]]; then
    while :; do
      id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      [[ $id != -* ]] && break
    done
    echo "$id" >"$file"
  fi
  cat "$file"
}

kafka_tool_java() {
  java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m \
    -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" "$@"
}

kafka_launch() {
  if running_pid "$KAFKA_PID" "$KAFKA_MARKER" >/dev/null; then return 0; fi
  if port_open "$HOST" "$KAFKA_PORT"; then
    log "kafka: $HOST:$KAFKA_PORT is already served by a process infra.sh did not start; using it as is"
    EXTERNAL[kafka]=1
    return 0
  fi
  kafka_install
  kafka_build_ready_probe
  kafka_write_config
  if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
    log "kafka: formatting storage in $KAFKA_DIR/data"
    kafka_tool_java -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool format \
      -t "$(kafka_cluster_id)" -c "$KAFKA_DIR/server.properties" --ignore-formatted \
      >>"$KAFKA_STDOUT" 2>&1 || {
      tail_log "$KAFKA_STDOUT"
      die "kafka: formatting storage failed"
    }
  fi
  log "kafka: starting Apache Kafka $KAFKA_VERSION (KRaft) on $HOST:$KAFKA_PORT"
  spawn "$KAFKA_PID" "$KAFKA_STDOUT" "$KAFKA_DIR" \
    java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties"
}

kafka_probe() {
  kafka_tool_java -cp "$(kafka_ready_class_dir):$KAFKA_HOME/libs/*" KafkaReady "$HOST:$KAFKA_PORT" "$1"
}

kafka_wait() {
  local pidfile=$KAFKA_PID start=$SECONDS
  [[ -z ${EXTERNAL[kafka]:-} ]] || pidfile=""
  wait_for kafka "$KAFKA_WAIT" "$pidfile" "$KAFKA_MARKER" "$KAFKA_LOG" port_open "$HOST" "$KAFKA_PORT" ||
    return 1
  # An external broker (pidfile empty) is trusted once its port answers and the probe passes.
  [[ -f $(kafka_ready_class_dir)/KafkaReady.class ]] || {
    kafka_install
    kafka_build_ready_probe
  }
  local left=$((KAFKA_WAIT - (SECONDS - start)))
  ((left < 10)) && left=10
  if ! kafka_probe "$left" >/dev/null; then
    log "kafka: port $KAFKA_PORT is open but the broker does not serve metadata"
    tail_log "$KAFKA_LOG"
    return 1
  fi
}

kafka_stop() { stop_pid kafka "$KAFKA_PID" "$KAFKA_MARKER" 60; }

# ---------------------------------------------------------------------------------------------
# OpenSearch: the integ-test distribution (no security plugin) from Maven Central, single node.

OS_DIR="$STATE/opensearch"
OS_PID="$OS_DIR/opensearch.pid"
# The launcher script runs first under the same pid, then execs the JVM.
OS_MARKER='org\.opensearch\.bootstrap\.OpenSearch|/bin/opensearch'
OS_LOG="$OS_DIR/logs/shopmesh-local.log"
OS_STDOUT="$OS_DIR/logs/stdout.log"
OS_URL="http://$HOST:$OPENSEARCH_PORT"

opensearch_install() {
  [[ -f $OPENSEARCH_DIST/.complete ]] && return 0
  need java "install a Java 17 runtime (apt-get install openjdk-17-jdk-headless)"
  need mvn "install Maven (apt-get install maven)"
  log "opensearch: fetching OpenSearch $OPENSEARCH_VERSION from Maven Central (first run only)"
  local tmp="$CACHE/opensearch-$OPENSEARCH_VERSION.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn_quiet "$tmp.log" -f "$HERE/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" \
    -DoutputDirectory="$tmp" ||
    die "opensearch: Maven could not fetch org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip"
  rm -f "$tmp.log"
  local zip="$tmp/opensearch-$OPENSEARCH_VERSION.zip"
  [[ -f $zip ]] || die "opensearch: expected $zip after download"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$zip" -d "$tmp"
  else
    (cd "$tmp" && jar xf "$zip")
  fi
  rm -f "$zip"
  [[ -d $tmp/opensearch-$OPENSEARCH_VERSION/lib ]] || die "opensearch: unexpected archive layout in $zip"
  chmod -R a+rX "$tmp/opensearch-$OPENSEARCH_VERSION"
  chmod a+x "$tmp/opensearch-$OPENSEARCH_VERSION"/bin/*
  touch "$tmp/opensearch-$OPENSEARCH_VERSION/.complete"
  rm -rf "$OPENSEARCH_DIST"
  mv "$tmp/opensearch-$OPENSEARCH_VERSION" "$OPENSEARCH_DIST"
  rm -rf "$tmp"
}

# run_user_prefix: sets RUNNER to the command prefix that runs a program as the unprivileged user
# when we are root (setpriv execs in place, so the pid we record is the JVM's), empty otherwise.
run_user_prefix() {
  RUNNER=()
  ((EUID == 0)) || return 0
  if command -v setpriv >/dev/null 2>&1; then
    RUNNER=(setpriv "--reuid=$RUN_USER" "--regid=$RUN_USER" --init-groups --)
  else
    RUNNER=(runuser -u "$RUN_USER" --)
  fi
}

opensearch_prepare_user() {
  ((EUID == 0)) || return 0
  if ! id -u "$RUN_USER" >/dev/null 2>&1; then
    log "opensearch: creating system user '$RUN_USER' (OpenSearch will not run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$RUN_USER" 2>/dev/null ||
      adduser --system --group --no-create-home "$RUN_USER" >/dev/null ||
      die "could not create user $RUN_USER"
  fi
}

# opensearch_home: the install the run user can read. The cache usually sits under /root (mode
# 0700) when we are root, so the install is then linked (or copied) into the state dir once.
opensearch_home() {
  run_user_prefix
  if ((EUID != 0)) || "${RUNNER[@]}" test -r "$OPENSEARCH_DIST/lib" -a -x "$OPENSEARCH_DIST/bin" 2>/dev/null; then
    echo "$OPENSEARCH_DIST"
    return 0
  fi
  local home="$OS_DIR/home-$OPENSEARCH_VERSION"
  if [[ ! -f $home/.complete ]]; then
    log "opensearch: $OPENSEARCH_DIST is not readable by '$RUN_USER'; linking the install into $home" >&2
    rm -rf "$home"
    mkdir -p "$OS_DIR"
    cp -al "$OPENSEARCH_DIST" "$home" 2>/dev/null || cp -a "$OPENSEARCH_DIST" "$home"
    chmod a+rX "$OS_DIR" "$home"
  fi
  echo "$home"
}

opensearch_write_config() {
  local home=$1
  mkdir -p "$OS_DIR/config/jvm.options.d" "$OS_DIR/data" "$OS_DIR/logs"
  cp "$home/config/log4j2.properties" "$OS_DIR/config/log4j2.properties"
  # bin/opensearch runs from the install dir, which the run user cannot write: point the
  # relative gc log, error file and heap dump paths at the state dir (and keep gc logs small).
  sed -e "s#logs/gc.log#$OS_DIR/logs/gc.log#g" -e "s#filecount=32,filesize=64m#filecount=4,filesize=16m#" \
    -e "s#^-XX:HeapDumpPath=data#-XX:HeapDumpPath=$OS_DIR/data#" \
    -e "s#^-XX:ErrorFile=logs/#-XX:ErrorFile=$OS_DIR/logs/#" \
    "$home/config/jvm.options" >"$OS_DIR/config/jvm.options"
  cat >"$OS_DIR/config/jvm.options.d/shopmesh.options" <<'EOF'
-Xms512m
-Xmx512m
EOF
  cat >"$OS_DIR/config/opensearch.yml" <<EOF
# Written by deploy/local/infra.sh on every start; edit the script, not this file.
cluster.name: shopmesh-local
node.name: shopmesh-local
path.data: $OS_DIR/data
path.logs: $OS_DIR/logs
network.host: $HOST
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
discovery.type: single-node
# Dev machines and CI runners are often nearly full; do not flip indices to read-only.
cluster.routing.allocation.disk.threshold_enabled: false
EOF
  if ((EUID == 0)); then
    chmod a+rx "$STATE"
    chown -R "$RUN_USER:" "$OS_DIR/config" "$OS_DIR/data" "$OS_DIR/logs"
    chmod a+rx "$OS_DIR"
    run_user_prefix
    "${RUNNER[@]}" test -w "$OS_DIR/data" 2>/dev/null ||
      die "opensearch: user '$RUN_USER' cannot reach $OS_DIR; every directory above it must be world-searchable (chmod o+x), or set SHOPMESH_INFRA_DIR elsewhere"
  fi
}

opensearch_launch() {
  if running_pid "$OS_PID" "$OS_MARKER" >/dev/null; then return 0; fi
  if port_open "$HOST" "$OPENSEARCH_PORT"; then
    log "opensearch: $HOST:$OPENSEARCH_PORT is already served by a process infra.sh did not start; using it as is"
    EXTERNAL[opensearch]=1
    return 0
  fi
  opensearch_install
  opensearch_prepare_user
  local home
  home="$(opensearch_home)"
  opensearch_write_config "$home"
  log "opensearch: starting OpenSearch $OPENSEARCH_VERSION on $OS_URL"
  # The working directory is the state dir: jvm.options writes gc logs and heap dumps relative to it.
  local java_home=${OPENSEARCH_JAVA_HOME:-${JAVA_HOME:-}}
  [[ -n $java_home ]] || java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
  run_user_prefix
  spawn "$OS_PID" "$OS_STDOUT" "$OS_DIR" \
    env -u OPENSEARCH_JAVA_OPTS -u JAVA_HOME OPENSEARCH_PATH_CONF="$OS_DIR/config" \
    OPENSEARCH_JAVA_HOME="$java_home" HOME="$OS_DIR" \
    "${RUNNER[@]}" "$home/bin/opensearch"
}

opensearch_health() {
  curl -fsS --max-time 3 "$OS_URL/_cluster/health?wait_for_status=yellow&timeout=2s" |
    grep -Eq '"status":"(yellow|green)"'
}

opensearch_wait() {
  local pidfile=$OS_PID
  [[ -z ${EXTERNAL[opensearch]:-} ]] || pidfile=""
  local logfile=$OS_LOG
  [[ -s $logfile ]] || logfile=$OS_STDOUT
  wait_for opensearch "$OPENSEARCH_WAIT" "$pidfile" "$OS_MARKER" "$logfile" opensearch_health
}

opensearch_stop() { stop_pid opensearch "$OS_PID" "$OS_MARKER" 60; }

# ---------------------------------------------------------------------------------------------
# SMTP sink: MailDev (root devDependency). SMTP on 1025, REST API and web UI on 1080.

SMTP_DIR="$STATE/smtp"
SMTP_PID="$SMTP_DIR/maildev.pid"
SMTP_MARKER="maildev"
SMTP_LOG="$SMTP_DIR/maildev.log"

smtp_launch() {
  if running_pid "$SMTP_PID" "$SMTP_MARKER" >/dev/null; then return 0; fi
  if port_open "$HOST" "$SMTP_PORT"; then
    log "smtp: $HOST:$SMTP_PORT is already served by a process infra.sh did not start; using it as is"
    EXTERNAL[smtp]=1
    return 0
  fi
  need node "install Node.js 20+"
  [[ -f $MAILDEV_BIN ]] || die "smtp: $MAILDEV_BIN missing; run 'npm ci' in $ROOT first (maildev is a root devDependency)"
  mkdir -p "$SMTP_DIR/mail"
  log "smtp: starting MailDev (SMTP $HOST:$SMTP_PORT, HTTP http://$HOST:$SMTP_HTTP_PORT)"
  spawn "$SMTP_PID" "$SMTP_LOG" "$SMTP_DIR" \
    node "$MAILDEV_BIN" --smtp "$SMTP_PORT" --web "$SMTP_HTTP_PORT" --ip "$HOST" --web-ip "$HOST" \
    --mail-directory "$SMTP_DIR/mail"
}

smtp_health() {
  port_open "$HOST" "$SMTP_PORT" && curl -fsS --max-time 2 "http://$HOST:$SMTP_HTTP_PORT/healthz" >/dev/null
}

smtp_wait() {
  local pidfile=$SMTP_PID
  [[ -z ${EXTERNAL[smtp]:-} ]] || pidfile=""
  wait_for smtp "$SMTP_WAIT" "$pidfile" "$SMTP_MARKER" "$SMTP_LOG" smtp_health
}

smtp_stop() { stop_pid smtp "$SMTP_PID" "$SMTP_MARKER" 10; }

# ---------------------------------------------------------------------------------------------
# commands

STARTABLE=(kafka opensearch smtp)
# Parts found already served by a process this script did not start (waited on, never stopped).
declare -A EXTERNAL=()

check_part() {
  local p
  for p in "${STARTABLE[@]}"; do [[ $1 == "$p" ]] && return 0; done
  die "unknown part '$1' (one of: ${STARTABLE[*]})"
}

# bring_up <parts...>: launch all first (they boot in parallel), then wait for each.
bring_up() {
  local p failed=()
  for p in "$@"; do "${p}_launch"; done
  for p in "$@"; do
    "${p}_wait" || failed+=("$p")
  done
  if ((${#failed[@]})); then
    die "not ready: ${failed[*]} (logs: bash deploy/local/infra.sh logs <part>; stop with: bash deploy/local/infra.sh down)"
  fi
}

cmd_up() {
  local t0=$SECONDS
  need curl "install curl (apt-get install curl)"
  with_lock
  postgres_up
  redis_up
  bring_up kafka smtp opensearch
  log "ready in $((SECONDS - t0))s"
  cmd_status || true
  cat >&2 <<EOF

  connection settings: source deploy/local/env.sh
  stop everything started here: npm run infra:down
EOF
}

cmd_down() {
  with_lock
  smtp_stop
  opensearch_stop
  kafka_stop
  redis_down
  postgres_down
}

cmd_start() {
  (($#)) || die "usage: infra.sh start <${STARTABLE[*]// /|}>..."
  local p
  for p in "$@"; do check_part "$p"; done
  need curl "install curl (apt-get install curl)"
  with_lock
  bring_up "$@"
  for p in "$@"; do log "$p: ready"; done
}

cmd_stop() {
  (($#)) || die "usage: infra.sh stop <${STARTABLE[*]// /|}>..."
  local p
  for p in "$@"; do check_part "$p"; done
  with_lock
  for p in "$@"; do "${p}_stop"; done
}

# shown <path>: a path relative to the repo when it is inside it, for shorter messages.
shown() {
  if [[ $1 == "$ROOT"/* ]]; then echo "${1#"$ROOT"/}"; else echo "$1"; fi
}

# status_line <name> <up?> <address> <detail>
status_line() { printf '  %-11s %-5s %-44s %s\n' "$1" "$2" "$3" "$4"; }

owner_note() {
  local pidfile=$1 marker=$2 pid
  if pid="$(running_pid "$pidfile" "$marker")"; then
    echo "pid $pid, started by infra.sh"
  else
    echo "not started by infra.sh"
  fi
}

cmd_status() {
  local down=0 note
  echo "shopmesh local infrastructure (state: $STATE):"
  note="system service"
  [[ -s $STATE/postgres/started-by-infra ]] && note="started by infra.sh"
  if pg_up_check 2>/dev/null; then
    status_line postgres up "postgres://postgres@$HOST:$PG_PORT" "$note"
  else
    status_line postgres down "postgres://postgres@$HOST:$PG_PORT" ""
    down=1
  fi
  note="system service"
  [[ -s $STATE/redis/started-by-infra ]] && note="started by infra.sh"
  if redis_up_check 2>/dev/null; then
    status_line redis up "redis://$HOST:$REDIS_PORT" "$note"
  else
    status_line redis down "redis://$HOST:$REDIS_PORT" ""
    down=1
  fi
  if port_open "$HOST" "$KAFKA_PORT"; then
    status_line kafka up "$HOST:$KAFKA_PORT" "$(owner_note "$KAFKA_PID" "$KAFKA_MARKER"); log $(shown "$KAFKA_LOG")"
  else
    status_line kafka down "$HOST:$KAFKA_PORT" ""
    down=1
  fi
  if curl -fsS --max-time 2 "$OS_URL" >/dev/null 2>&1; then
    status_line opensearch up "$OS_URL" "$(owner_note "$OS_PID" "$OS_MARKER"); log $(shown "$OS_LOG")"
  else
    status_line opensearch down "$OS_URL" ""
    down=1
  fi
  if port_open "$HOST" "$SMTP_PORT"; then
    status_line smtp up "smtp://$HOST:$SMTP_PORT  http://$HOST:$SMTP_HTTP_PORT" "$(owner_note "$SMTP_PID" "$SMTP_MARKER"); log $(shown "$SMTP_LOG")"
  else
    status_line smtp down "smtp://$HOST:$SMTP_PORT  http://$HOST:$SMTP_HTTP_PORT" ""
    down=1
  fi
  ((down == 0)) || return 3
}

cmd_logs() {
  local file
  case "${1:-}" in
  kafka) file=$KAFKA_LOG ;;
  opensearch) file=$OS_LOG ;;
  smtp) file=$SMTP_LOG ;;
  redis) file=$STATE/redis/redis.log ;;
  *) die "usage: infra.sh logs <kafka|opensearch|smtp|redis>" ;;
  esac
  [[ -f $file ]] || die "no log yet at $file"
  tail -n "${LINES_TO_SHOW:-100}" "$file"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  restart)
    cmd_stop "$@"
    cmd_start "$@"
    ;;
  logs) cmd_logs "$@" ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
