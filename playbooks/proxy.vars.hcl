# The proxy choice, imported by app.hcl and compose.hcl (which declares its
# own proxy default, haproxy). Not a playbook: it holds variable blocks only.

variable "proxy" {
  description = "the proxy in front of the replicas: nginx (a reload per drain and undrain) or haproxy (its runtime API: no reload)"
  default     = "nginx"
}
variable "haproxy_image" {
  description = "haproxy image, with -e proxy=haproxy (make images builds it from Debian's package)"
  default     = "zdplay-demo/haproxy:local"
}
variable "slots" {
  description = "with -e proxy=haproxy: the backend's server slots, the most replicas (surge included) it can hold without a reload"
  type        = number
  default     = 16
}
