#!/bin/sh
# gen.sh - regenerates the fixed certificate the X.509 tests check radfed
# against, and the reference answers of the openssl command line.
#
#   tests/common/data/crypto/gen.sh
#
# fixture-cert.pem        self-signed P-256 certificate, CN=fixture-site,
#                         OU=site (the key is thrown away)
# fixture-cert.sha256     `openssl x509 -noout -fingerprint -sha256`
# fixture-cert.subject    `openssl x509 -noout -subject -nameopt RFC2253`
# fixture-cert.enddate    `openssl x509 -noout -enddate`, then the same in
#                         seconds since 1970 (GNU date)
# Regenerating changes the certificate: commit the four files together.
set -eu
cd "$(dirname "$0")"
key=$(mktemp)
trap 'rm -f "$key"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$key" -subj "/OU=site/CN=fixture-site" -sha256 \
	-days 36500 -out fixture-cert.pem 2>/dev/null
openssl x509 -in fixture-cert.pem -noout -fingerprint -sha256 \
	>fixture-cert.sha256
openssl x509 -in fixture-cert.pem -noout -subject -nameopt RFC2253 \
	>fixture-cert.subject
end=$(openssl x509 -in fixture-cert.pem -noout -enddate)
{ echo "$end"; date -u -d "${end#notAfter=}" +%s; } >fixture-cert.enddate
