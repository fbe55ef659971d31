# Sourced by the bench scripts: waiting for a server started on port 0 to say where it listens.

# Prints the port of the first "listening on [http://127.0.0.1:]PORT" line in log file $1, waiting up to
# 10 s. Otherwise prints "$2 did not start:" and the log to stderr, and fails.
listening_port() {
    local port
    for _ in $(seq 100); do
        port=$(grep -oE 'listening on (http://127\.0\.0\.1:)?[0-9]+' "$1" | grep -oE '[0-9]+$' | head -1) || true
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        sleep 0.1
    done
    echo "$2 did not start:" >&2
    cat "$1" >&2
    return 1
}
