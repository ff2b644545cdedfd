output "vpc_id" {
  description = "ID of the VPC (tagged <prefix>-vpc)."
  value       = aws_vpc.this.id
}

output "vpc_name" {
  description = "Name tag of the VPC, which infra/file_processing looks up."
  value       = aws_vpc.this.tags["Name"]
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per AZ."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per AZ (tagged <prefix>-private-<az>)."
  value       = aws_subnet.private[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs."
  value       = aws_nat_gateway.this[*].id
}

output "availability_zones" {
  description = "AZs the subnets are spread over."
  value       = local.azs
}
