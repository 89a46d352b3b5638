{{/* The release's object name: the release name, with the chart name appended unless it holds it. */}}
{{- define "edgegate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 57 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 57 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "edgegate.adminName" -}}
{{- printf "%s-admin" (include "edgegate.fullname" .) -}}
{{- end -}}

{{- define "edgegate.rulesName" -}}
{{- printf "%s-rules" (include "edgegate.fullname" .) -}}
{{- end -}}

{{- define "edgegate.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "edgegate.fullname" .) -}}
{{- end -}}

{{- define "edgegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "edgegate.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "edgegate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "edgegate.labels" -}}
{{ include "edgegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: edgegate
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/*
edgegate.config: edgegate.yaml, the user's config with what the chart owns
written over it (listeners, rules path, shutdown, admin host names, GeoIP
files). Refuses the keys the chart owns.
*/}}
{{- define "edgegate.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- range $k := list "listen" "admin_listen" "rules" "shutdown_delay" "shutdown_timeout" -}}
{{- if hasKey $cfg $k -}}
{{- fail (printf "edgegate: set config.%s through the chart's ports, shutdown and rules values, not under config" $k) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf ":%d" (int .Values.ports.http)) -}}
{{- $_ := set $cfg "admin_listen" (printf ":%d" (int .Values.ports.admin)) -}}
{{- $_ := set $cfg "rules" "/etc/edgegate/rules/rules.yaml" -}}
{{- $_ := set $cfg "shutdown_delay" (printf "%ds" (int .Values.shutdown.delaySeconds)) -}}
{{- $_ := set $cfg "shutdown_timeout" (printf "%ds" (int .Values.shutdown.timeoutSeconds)) -}}
{{- $admin := get $cfg "admin" | default dict -}}
{{- $svc := include "edgegate.adminName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) -}}
{{- $_ := set $admin "hosts" (concat $hosts (get $admin "hosts" | default list) | uniq) -}}
{{- $_ := set $cfg "admin" $admin -}}
{{- if .Values.geoip.files -}}
{{- $geo := get $cfg "geo" | default dict -}}
{{- $dbs := list -}}
{{- range .Values.geoip.files -}}
{{- $dbs = append $dbs (printf "/var/lib/edgegate/geoip/%s" .) -}}
{{- end -}}
{{- $_ := set $geo "databases" $dbs -}}
{{- $_ := set $cfg "geo" $geo -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* edgegate.mib: a memory quantity (Mi, Gi, M, G or bytes) in whole MiB. */}}
{{- define "edgegate.mib" -}}
{{- $q := toString . -}}
{{- if hasSuffix "Gi" $q -}}{{- mul (trimSuffix "Gi" $q | int64) 1024 -}}
{{- else if hasSuffix "Mi" $q -}}{{- trimSuffix "Mi" $q | int64 -}}
{{- else if hasSuffix "G" $q -}}{{- div (mul (trimSuffix "G" $q | int64) 1000000000) 1048576 -}}
{{- else if hasSuffix "M" $q -}}{{- div (mul (trimSuffix "M" $q | int64) 1000000) 1048576 -}}
{{- else if regexMatch "^[0-9]+$" $q -}}{{- div ($q | int64) 1048576 -}}
{{- else -}}{{- fail (printf "edgegate: resources.limits.memory %q: write it in Mi, Gi, M, G or bytes" $q) -}}
{{- end -}}
{{- end -}}

{{/*
edgegate.gomemlimit: checks that the memory limit holds the budgets (see
sizing in values.yaml) and prints GOMEMLIMIT: the limit less the pixel
budget less 64 MiB.
*/}}
{{- define "edgegate.gomemlimit" -}}
{{- $limit := include "edgegate.mib" (required "edgegate: resources.limits.memory is required (sizing in values.yaml)" .Values.resources.limits.memory) | int64 -}}
{{- $img := .Values.config.images | default dict -}}
{{- $cache := div ((get $img "cache_bytes" | default 268435456) | int64) 1048576 -}}
{{- $src := div ((get $img "source_bytes_in_flight" | default 268435456) | int64) 1048576 -}}
{{- $pixels := div (add (mul ((get $img "budget_megapixels" | default 64) | int64) 4000000) 1048575) 1048576 -}}
{{- $conns := div (mul ((.Values.config.max_connections | default 16384) | int64) (int64 .Values.sizing.connectionKiB)) 1024 -}}
{{- $need := add (int64 .Values.sizing.baselineMiB) $cache $src $pixels $conns -}}
{{- if lt $limit $need -}}
{{- fail (printf "edgegate: resources.limits.memory (%d MiB) is below the budget of %d MiB: baseline %d + images.cache_bytes %d + images.source_bytes_in_flight %d + images.budget_megapixels %d + max_connections %d" $limit $need (int64 .Values.sizing.baselineMiB) $cache $src $pixels $conns) -}}
{{- end -}}
{{- printf "%dMiB" (sub $limit (add $pixels 64)) -}}
{{- end -}}
