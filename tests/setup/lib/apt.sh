# shellcheck shell=bash
# Sourced by the setup scripts (tests/run runs tests/setup/*.sh, not this folder).

# apt_install [APT-GET OPTION...] PACKAGE...: install these Debian packages, once each, waiting
# for the dpkg lock rather than failing (other worktrees' setups may hold it).
apt_install() {
	local args arg pkgs=()
	mapfile -t args < <(printf '%s\n' "$@" | awk '!seen[$0]++')
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${args[@]}" >/dev/null
	for arg in "${args[@]}"; do [[ $arg == -* ]] || pkgs+=("$arg"); done
	echo "installed: ${pkgs[*]}"
}
