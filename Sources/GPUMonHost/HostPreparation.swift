/// Host preparation: `gpumon doctor` checks and `gpumon setup` changes (issue 6; being built).
public enum HostPreparation {}
