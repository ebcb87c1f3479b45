{{- define "reservation-platform.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "reservation-platform.labels" -}}
app.kubernetes.io/instance: {{ include "reservation-platform.name" . }}
app.kubernetes.io/part-of: reservation-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- /*
  A credential: (dict "root" $ "what" "mysql-primary" "ref" .Values.backends.mysql.primary).
  secretName: the existing Secret, or the one this chart creates from the value.
*/ -}}
{{- define "reservation-platform.secretName" -}}
{{- if .ref.existingSecret -}}
{{- .ref.existingSecret -}}
{{- else if .ref.value -}}
{{- printf "%s-%s" (include "reservation-platform.name" .root) .what -}}
{{- else -}}
{{- fail (printf "backends: %s needs existingSecret (a Secret that exists) or value (this chart creates the Secret)" .path) -}}
{{- end -}}
{{- end -}}
