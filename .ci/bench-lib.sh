# Helpers shared by .ci/run and benchmarks/run. Expects $repo, $bench_dir, $site, $logs.

wait_for() { # command... : retry for up to 60 s
	for _ in $(seq 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
	return 1
}

start_services() {
	if ! mysqladmin ping >/dev/null 2>&1; then
		service mariadb start >/dev/null 2>&1 || (mysqld_safe >/dev/null 2>&1 &)
		wait_for mysqladmin ping || { echo "MariaDB did not start"; return 1; }
	fi
	local conf port
	for conf in "$bench_dir"/config/redis_cache.conf "$bench_dir"/config/redis_queue.conf; do
		port=$(awk '$1 == "port" {print $2}' "$conf")
		if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
			(cd "$bench_dir/config" && redis-server "$conf" --daemonize yes >/dev/null)
			wait_for redis-cli -p "$port" ping || { echo "Redis on port $port did not start"; return 1; }
		fi
	done
}

frappe_cli() { # bench's site commands, without the bench wrapper's root check
	(cd "$bench_dir/sites" && "$bench_dir/env/bin/python" -m frappe.utils.bench_helper frappe "$@")
}

sync_app() { # install this checkout's code into the bench, then install or migrate the app
	# The bench runs the code of this checkout.
	local app="$bench_dir/apps/cams_biometric"
	if [ ! -d "$app" ]; then
		mkdir -p "$app"
	fi
	find "$app" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
	(cd "$repo" && tar --exclude=.git --exclude=.venv -cf - .) | (cd "$app" && tar -xf -)
	"$bench_dir/env/bin/pip" install -q --disable-pip-version-check -e "$app" >"$logs/pip2.log" 2>&1 ||
		{ cat "$logs/pip2.log"; return 1; }
	local apps_txt="$bench_dir/sites/apps.txt"
	if ! grep -qx cams_biometric "$apps_txt"; then
		# bench writes apps.txt without a final newline; appending must not glue two names.
		[ -z "$(tail -c1 "$apps_txt")" ] || echo >>"$apps_txt"
		echo cams_biometric >>"$apps_txt"
	fi

	if frappe_cli --site "$site" list-apps 2>/dev/null | grep -q '^cams_biometric'; then
		frappe_cli --site "$site" migrate --skip-search-index >"$logs/migrate.log" 2>&1 ||
			{ tail -40 "$logs/migrate.log"; return 1; }
	else
		frappe_cli --site "$site" install-app cams_biometric >"$logs/migrate.log" 2>&1 ||
			{ tail -40 "$logs/migrate.log"; return 1; }
	fi
}
