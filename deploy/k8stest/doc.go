// Package k8stest checks edgegate's Kubernetes artifacts: the plain
// manifests in deploy/kubernetes and the Helm chart in deploy/helm/edgegate.
package k8stest
