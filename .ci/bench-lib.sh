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

sync_app() { # the bench runs this checkout: link it in, then install or migrate the app
	local app="$bench_dir/apps/cams_biometric"
	if [ -e "$app" ] && [ ! -L "$app" ]; then
		rm -rf "$app" # a copy left by an older .ci/run
	fi
	ln -sfn "$repo" "$app"
	# Editable install of the link, once: it then follows wherever the link points.
	if ! (cd / && "$bench_dir/env/bin/python" -c 'import cams_biometric, sys; sys.exit(not cams_biometric.__file__.startswith(sys.argv[1]))' "$app/"); then
		"$bench_dir/env/bin/pip" install -q --disable-pip-version-check -e "$app" >"$logs/pip2.log" 2>&1 ||
			{ cat "$logs/pip2.log"; return 1; }
	fi
	local apps_txt="$bench_dir/sites/apps.txt"
	if ! grep -qx cams_biometric "$apps_txt"; then
		# bench writes apps.txt without a final newline; appending must not glue two names.
		[ -z "$(tail -c1 "$apps_txt")" ] || echo >>"$apps_txt"
		echo cams_biometric >>"$apps_txt"
	fi

	local installed
	installed=$(frappe_cli --site "$site" list-apps 2>/dev/null)
	if grep -q '^cams_biometric\b' <<<"$installed"; then
		frappe_cli --site "$site" migrate --skip-search-index >"$logs/migrate.log" 2>&1 ||
			{ tail -40 "$logs/migrate.log"; return 1; }
	else
		frappe_cli --site "$site" install-app cams_biometric >"$logs/migrate.log" 2>&1 ||
			{ tail -40 "$logs/migrate.log"; return 1; }
	fi
}
