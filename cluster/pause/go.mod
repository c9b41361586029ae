// The pause program of the cluster tier's real node: the process that holds each pod's
// namespaces (containerd's sandbox image), built here because no registry is reachable.
module aurora.local/cluster/pause

go 1.26.0
