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

{{- /*
  Per service, its own MySQL account (values: database.accounts.<service>), as the Secret holding
  its URLs: the one named (existingSecret) or the one this chart makes from user and password.
  Renders YAML: <service>: { secret, replica (it reads the replica too), user, password }.
*/ -}}
{{- define "reservation-platform.databaseAccounts" -}}
{{- $db := .Values.database | default dict }}
{{- range $service, $account := $db.accounts | default dict }}
{{- $path := printf "database.accounts.%s" $service }}
{{- if and $account.existingSecret (or $account.user $account.password) }}
{{- fail (printf "%s: give existingSecret or user and password, not both" $path) }}
{{- end }}
{{- if not (or $account.existingSecret $account.user) }}
{{- fail (printf "%s needs existingSecret (a Secret with primary-url%s) or user and password (this chart makes the Secret)" $path (ternary "" " and replica-url" (eq $service "reservationApi"))) }}
{{- end }}
{{ $service }}:
  replica: {{ ne $service "reservationApi" }}
  {{- if $account.existingSecret }}
  secret: {{ $account.existingSecret }}
  {{- else }}
  secret: {{ printf "%s-mysql-%s" (include "reservation-platform.name" $) (kebabcase $service) }}
  user: {{ $account.user | quote }}
  password: {{ $account.password | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{- /*
  A MySQL URL of an account the chart makes: (dict "db" .Values.database "host" "primaryHost" "account" $a "path" ...).
  The user and password are escaped for the URL's userinfo.
*/ -}}
{{- define "reservation-platform.mysqlUrl" -}}
{{- $host := required (printf "database.%s is required: the MySQL server %s's URL names (it has user and password)" .host .path) (get .db .host) -}}
{{- $escape := dict "user" (.account.user | urlquery | replace "+" "%20") "password" (.account.password | urlquery | replace "+" "%20") -}}
mysql://{{ $escape.user }}:{{ $escape.password }}@{{ $host }}:{{ .db.port | default 3306 }}/{{ .db.name | default "reservations" }}{{ if .db.options }}?{{ .db.options }}{{ end }}
{{- end -}}

{{- /* .Values.services with each database account as its spec.services.<service>.mysql. */ -}}
{{- define "reservation-platform.services" -}}
{{- $services := deepCopy (.Values.services | default dict) }}
{{- range $service, $account := include "reservation-platform.databaseAccounts" . | fromYaml }}
{{- $spec := get $services $service | default dict }}
{{- if hasKey $spec "mysql" }}
{{- fail (printf "services.%s.mysql and database.accounts.%s both give %s's account: keep one" $service $service $service) }}
{{- end }}
{{- $mysql := dict "primarySecretRef" (dict "name" $account.secret "key" "primary-url") }}
{{- if $account.replica }}
{{- $_ := set $mysql "replicaSecretRef" (dict "name" $account.secret "key" "replica-url") }}
{{- end }}
{{- $_ := set $spec "mysql" $mysql }}
{{- $_ := set $services $service $spec }}
{{- end }}
{{- if $services }}{{ toYaml $services }}{{ end }}
{{- end -}}
