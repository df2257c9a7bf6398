# The proxy choice, imported by compose.hcl (so app.hcl) and bluegreen.hcl
# (whose HAProxy backend has a slot for each replica of both colours).
# Not a playbook: it holds variable blocks only.

variable "proxy" {
  description = "the proxy in front of the replicas: haproxy (its runtime API: no reload, no client connection closed) or nginx (a reload per drain and undrain)"
  default     = "haproxy"
}
variable "haproxy_image" {
  description = "haproxy image, with -e proxy=haproxy (make images builds it from Debian's package)"
  default     = "zdplay-demo/haproxy:local"
}
