// Environment configuration, validated at start-up, goes here.
export {};
