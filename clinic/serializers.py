from rest_framework import serializers


class ConsultationOut(serializers.Serializer):
    id = serializers.IntegerField()
    description = serializers.CharField()
    duration = serializers.IntegerField(help_text="Seconds.")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    capacity = serializers.IntegerField()
