"""Reports the district reads (coverage, data quality) and exports for other systems (FHIR)."""
