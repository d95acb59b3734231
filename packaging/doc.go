// Package packaging holds no code: its tests check the packages that
// `make packages` (scripts/packages.sh) builds from packaging/linux and
// packaging/windows. The Linux tests build the deb of the agent and of the
// collector for the host's architecture, install, upgrade and purge them with
// dpkg as root, check files, owners, modes, the system user and the systemd
// units (systemd-analyze verify), and inspect the rpms with rpm without
// installing them.
package packaging
