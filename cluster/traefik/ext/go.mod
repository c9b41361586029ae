// Traefik's go.mod replaces github.com/traefik/traefik/dynamic/ext with a nested module
// (./pkg/config/dynamic/ext) that its module zip leaves out and the proxy does not serve.
// That module only declares two empty extension points of the dynamic configuration;
// scripts/cluster copies this folder into place before building Traefik.
module github.com/traefik/traefik/dynamic/ext

go 1.26.0
